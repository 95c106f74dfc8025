"""Runs the asset graph in process, the way `tally run` does: load, then invoice the months it changed."""

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from dagster_project.definitions import build_definitions
from dagster_project.jobs import TRIGGER_TAG
from dagster_project.partitions import billing_months
from dagster_project.progress import progress_logger
from dagster_project.resources import DEFAULT_MEMORY_LIMIT, TallyWarehouse
from transforms.marts import stale_periods

PROGRESS = {"loggers": {"progress": {}}}
PUBLISH = dg.AssetKey(["publish", "warehouse"])


class RunFailed(Exception):
    """The run cannot be trusted; the published warehouse was left as it was."""


@dataclass
class Summary:
    reconciliation: pl.DataFrame
    invoices: int  # written by this run: the invoices of the months it rebuilt
    invoices_total: int
    periods: list[date]
    db: Path

    def __str__(self) -> str:
        totals = self.reconciliation.drop("source").sum()
        lines = ["", "records by outcome:"]
        lines += [f"  {name:<20}{value:>10}" for name, value in zip(totals.columns, totals.row(0))]
        months = ", ".join(p.strftime("%Y-%m") for p in self.periods) or "none"
        lines += [f"invoices written: {self.invoices} (months: {months}); in the warehouse: {self.invoices_total}",
                  f"warehouse: {self.db}"]
        return "\n".join(lines)


def run_pipeline(raw_dir: Path, reference_dir: Path, db: Path, memory_limit: str = DEFAULT_MEMORY_LIMIT,
                 instance: dg.DagsterInstance | None = None) -> Summary:
    warehouse = TallyWarehouse(raw_dir=str(raw_dir), reference_dir=str(reference_dir), db=str(db),
                               memory_limit=memory_limit)
    defs = build_definitions(warehouse, loggers={"progress": progress_logger})
    instance = instance or (dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral())
    load = defs.resolve_job_def("load")
    unpublished = [key for key in load.asset_layer.executable_asset_keys if key != PUBLISH]
    _execute(load, instance, asset_selection=unpublished)
    periods = _billing_periods(warehouse)
    if periods:
        _execute(defs.resolve_job_def("invoice"), instance, tags={
            "dagster/asset_partition_range_start": periods[0].isoformat(),
            "dagster/asset_partition_range_end": periods[-1].isoformat(),
        })
    else:
        _execute(load, instance, asset_selection=[PUBLISH])
    with warehouse.connect() as con:
        reconciliation = con.sql("SELECT * FROM reconciliation ORDER BY source").pl()
        written, total = con.sql(
            "SELECT count(*) FILTER (WHERE list_contains(?, period_start)), count(*) FROM invoices", params=[periods]
        ).fetchall()[0]
    return Summary(reconciliation, written, total, periods, db)


def _execute(job, instance, tags: dict | None = None, asset_selection=None) -> None:
    result = job.execute_in_process(
        instance=instance,
        tags={**(tags or {}), TRIGGER_TAG: "cli"},
        run_config=PROGRESS,
        raise_on_error=False,
        asset_selection=asset_selection,
    )
    if not result.success:
        raise RunFailed(_failure_message(result))
    failed_checks = [
        e.asset_check_evaluation_data for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]
    blocking = [c for c in failed_checks if c.blocking]
    if blocking:
        names = ", ".join(f"{c.asset_key.to_user_string()}:{c.check_name}" for c in blocking)
        raise RunFailed(f"blocking checks failed: {names}")


def _failure_message(result) -> str:
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            cause = error.cause.message if error and error.cause else ""
            return f"step {event.step_key} failed: {(error.message if error else '').strip()} {cause}".strip()
    return "the run did not succeed"


def _billing_periods(warehouse: TallyWarehouse) -> list[date]:
    """The billing months from the first to the last whose invoices no longer match the priced usage,
    all inside the partitioned billing calendar."""
    with warehouse.connect() as con:
        periods = stale_periods(con)
    keys = billing_months.get_partition_keys()
    outside = [p for p in periods if p.isoformat() not in set(keys)]
    if outside:
        raise RunFailed(
            f"billed usage falls in months outside the billing calendar ({keys[0][:7]} to {keys[-1][:7]}): "
            + ", ".join(p.strftime("%Y-%m") for p in outside)
        )
    if not periods:
        return []
    first, last = keys.index(periods[0].isoformat()), keys.index(periods[-1].isoformat())
    return [date.fromisoformat(key) for key in keys[first : last + 1]]
