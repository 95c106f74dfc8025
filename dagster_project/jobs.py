"""Jobs, schedules and the sensor that runs them."""


from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg

from dagster_project.partitions import billing_months
from dagster_project.resources import TallyWarehouse

load_job = dg.define_asset_job(
    "load",
    selection=dg.AssetSelection.all() - dg.AssetSelection.keys(["marts", "invoice_lines"], ["marts", "invoices"]),
    description="Loads new dump files and rebuilds every unpartitioned table, then publishes.",
)

invoice_job = dg.define_asset_job(
    "invoice",
    selection=dg.AssetSelection.keys(["marts", "invoice_lines"], ["marts", "invoices"], ["publish", "warehouse"]),
    partitions_def=billing_months,
    description="Builds the invoices of one or more billing months, then publishes.",
)

daily_load_schedule = dg.ScheduleDefinition(
    name="daily_load", job=load_job, cron_schedule="0 2 * * *", execution_timezone="UTC"
)


@dg.schedule(name="monthly_invoices", job=invoice_job, cron_schedule="0 6 1 * *", execution_timezone="UTC")
def monthly_invoice_schedule(context: dg.ScheduleEvaluationContext):
    """On the 1st, invoice the month that just closed."""
    closed = (context.scheduled_execution_time.replace(day=1) - timedelta(days=1)).replace(day=1)
    key = closed.strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=key, partition_key=key)


@dg.sensor(name="new_dump_files", job=load_job, minimum_interval_seconds=60)
def new_dump_files_sensor(context: dg.SensorEvaluationContext, warehouse: TallyWarehouse):
    """Requests a load when a dump file appears or changes; the cursor holds what was seen."""
    raw_dir = Path(warehouse.raw_dir)
    seen = set(context.cursor.split("\n")) if context.cursor else set()
    current = {
        f"{p.relative_to(raw_dir).as_posix()}|{p.stat().st_size}|{int(p.stat().st_mtime)}"
        for p in raw_dir.glob("*/**/*")
        if p.is_file() and p.name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"))
    } if raw_dir.is_dir() else set()
    new = sorted(current - seen)
    if not new:
        return dg.SkipReason("no new dump files")
    context.update_cursor("\n".join(sorted(current)))
    return dg.RunRequest(run_key=f"files-{datetime.now():%Y%m%dT%H%M%S}-{len(new)}")
