"""The Dagster definitions of tally: `dagster dev -m dagster_project` loads these."""

import dagster as dg

from dagster_project.assets.intermediate import intermediate_assets
from dagster_project.assets.lifecycle import lifecycle_assets
from dagster_project.assets.marts import mart_assets
from dagster_project.assets.raw import raw_tables
from dagster_project.assets.staging import staging_tables
from dagster_project.checks import checks
from dagster_project.fanout import invoice_fanout
from dagster_project.jobs import (
    close_job,
    daily_load_schedule,
    invoice_job,
    invoices_after_load_sensor,
    load_job,
    monthly_close_schedule,
    monthly_invoice_schedule,
    new_dump_files_sensor,
)
from dagster_project.resources import TallyWarehouse


def build_definitions(warehouse: TallyWarehouse | None = None, loggers: dict | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[raw_tables, staging_tables, *intermediate_assets, *mart_assets, *lifecycle_assets],
        asset_checks=checks,
        jobs=[load_job, invoice_job, close_job, invoice_fanout],
        schedules=[daily_load_schedule, monthly_invoice_schedule, monthly_close_schedule],
        sensors=[new_dump_files_sensor, invoices_after_load_sensor],
        resources={"warehouse": warehouse or TallyWarehouse.from_env()},
        loggers=loggers,
        # Every step opens the one DuckDB working file for writing, and DuckDB lets one process do that:
        # runs launched from the UI, schedules and sensors run their steps one after another in the run's
        # process. `invoice_fanout` works on Parquet and keeps its own multiprocess executor.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
