"""Jobs, schedules and the sensor that runs them."""


import hashlib
import os
from datetime import timedelta
from pathlib import Path

import dagster as dg

from dagster_project.metadata import BILLING_PERIODS_KEY
from dagster_project.partitions import BILLING_MONTHS, add_billing_months, billing_months, covering_range
from dagster_project.resources import TallyWarehouse
from transforms.raw.dump_files import DUMP_SUFFIXES, SOURCES

TRIGGER_TAG = "tally/trigger"
PRICED_USAGE = dg.AssetKey(["intermediate", "priced_usage"])

INVOICE_ASSETS = (["marts", "invoice_lines"], ["marts", "invoices"])
PUBLISHED_ASSETS = (["publish", "warehouse"], ["publish", "invoice_documents"], ["publish", "issued_documents"])
LIFECYCLE_DOCUMENTS = ["lifecycle", "documents"]
CLOSE_ASSETS = (["lifecycle", "close_file"], ["lifecycle", "issued_documents"], LIFECYCLE_DOCUMENTS)

load_job = dg.define_asset_job(
    "load",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*INVOICE_ASSETS, *CLOSE_ASSETS),
    description="Loads new dump files and rebuilds every unpartitioned table, then publishes the warehouse "
                "and brings the invoice documents up to date with it.",
)

invoice_job = dg.define_asset_job(
    "invoice",
    selection=dg.AssetSelection.assets(*INVOICE_ASSETS, LIFECYCLE_DOCUMENTS, *PUBLISHED_ASSETS),
    description="Builds the invoices of one or more billing months and the drafts and pending adjustments, "
                "publishes the warehouse, then brings the documents up to date with it.",
)

close_job = dg.define_asset_job(
    "close",
    selection=dg.AssetSelection.assets(*CLOSE_ASSETS, *PUBLISHED_ASSETS),
    description="Closes one billing month (SPEC §7): writes its close file (issue date as run config), issues "
                "its invoices and the pending adjustments of the months closed before, publishes, and writes "
                "the issued documents. Load first: the close records what the working database holds.",
)

daily_load_schedule = dg.ScheduleDefinition(
    name="daily_load", job=load_job, cron_schedule="0 2 * * *", execution_timezone="UTC"
)


@dg.schedule(name="monthly_invoices", job=invoice_job, cron_schedule="0 6 1 * *", execution_timezone="UTC")
def monthly_invoice_schedule(context: dg.ScheduleEvaluationContext):
    """On the 1st, invoice the month that just closed; it becomes a billing-month partition if no usage
    made it one (a month without invoices is rebuilt empty)."""
    closed = (context.scheduled_execution_time.replace(day=1) - timedelta(days=1)).replace(day=1)
    key = closed.date().isoformat()
    add_billing_months(context.instance, [key])
    return dg.RunRequest(run_key=key, partition_key=key)


@dg.run_status_sensor(
    name="invoices_after_load",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[load_job],
    request_job=invoice_job,
)
def invoices_after_load_sensor(context: dg.RunStatusSensorContext):
    """After a load, rebuild the invoices of every month it made stale, so no billed line waits for the
    month to close to appear on its invoice (late events re-open closed months too): one run over the
    billing-month partitions from the first stale month to the last, in partition order."""
    if context.dagster_run.tags.get(TRIGGER_TAG) == "cli":
        return dg.SkipReason("`tally run` invoices by itself")
    event = context.instance.get_latest_materialization_event(PRICED_USAGE)
    periods = event.asset_materialization.metadata.get(BILLING_PERIODS_KEY) if event else None
    if not periods or not periods.value:
        return dg.SkipReason("no billed usage")
    stale = list(periods.value)
    # Pricing added its months; the request adds any the instance lacks, in calendar order, before the run.
    keys = list(context.instance.get_dynamic_partitions(BILLING_MONTHS))
    keys += sorted(set(stale) - set(keys))
    months = covering_range(keys, stale)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(
            run_key=f"after-{context.dagster_run.run_id}",
            tags={
                "dagster/asset_partition_range_start": months[0],
                "dagster/asset_partition_range_end": months[-1],
            },
        )],
        dynamic_partitions_requests=[billing_months.build_add_request(sorted(stale))],
    )


@dg.sensor(name="new_dump_files", job=load_job, minimum_interval_seconds=60)
def new_dump_files_sensor(context: dg.SensorEvaluationContext, warehouse: TallyWarehouse):
    """Requests a load when a dump file appears or changes; the cursor holds what was seen."""
    raw_dir = Path(warehouse.raw_dir)
    seen = set(context.cursor.split("\n")) if context.cursor else set()
    current = {
        f"{p.relative_to(raw_dir).as_posix()}|{p.stat().st_size}|{int(p.stat().st_mtime)}"
        for source in SOURCES
        for p in (raw_dir / source).rglob("*")
        if p.is_file() and p.name.endswith(DUMP_SUFFIXES)
    }
    new = sorted(current - seen)
    if not new:
        return dg.SkipReason("no new dump files")
    context.update_cursor("\n".join(sorted(current)))
    return dg.RunRequest(run_key="files-" + hashlib.sha256("\n".join(new).encode()).hexdigest()[:16])


def close_grace_days() -> int:
    """Days after a month ends before `monthly_close` closes it (env TALLY_CLOSE_GRACE_DAYS, default 3):
    the time late dump files have to arrive before the month is issued."""
    return int(os.environ.get("TALLY_CLOSE_GRACE_DAYS", "3"))


@dg.schedule(name="monthly_close", job=close_job, cron_schedule=f"0 6 {1 + close_grace_days()} * *",
             execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED)
def monthly_close_schedule(context: dg.ScheduleEvaluationContext):
    """Off until turned on. The grace period after a month ends, closes it with the tick's date as issue
    date; the daily load has loaded what arrived by then."""
    tick = context.scheduled_execution_time
    month = (tick.replace(day=1) - timedelta(days=1)).replace(day=1).date().isoformat()
    add_billing_months(context.instance, [month])
    return dg.RunRequest(run_key=f"close-{month}", partition_key=month, run_config={
        "ops": {"lifecycle__close_file": {"config": {"issue_date": tick.date().isoformat()}}}})
