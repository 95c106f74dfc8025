"""Schedules and sensors: the month a schedule invoices, what the sensors ask for and when they skip."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from dagster_project import build_definitions
from dagster_project.jobs import (
    TRIGGER_TAG,
    invoices_after_load_sensor,
    monthly_invoice_schedule,
    new_dump_files_sensor,
)
from dagster_project.resources import TallyWarehouse
from harness import envelope, persistent_instance, write_dump, write_reference

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def test_monthly_schedule_invoices_the_month_just_closed(tmp_path):
    with persistent_instance(tmp_path) as instance:
        for tick, closed in [
            (datetime(2026, 11, 1, 6, tzinfo=timezone.utc), "2026-10-01"),
            (datetime(2027, 1, 1, 6, tzinfo=timezone.utc), "2026-12-01"),
            (datetime(2026, 3, 1, 6, tzinfo=timezone.utc), "2026-02-01"),
        ]:
            # The context opens the instance again from its ref; `with` closes it (a schedule tick does).
            with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context:
                request = monthly_invoice_schedule(context)
            assert request.partition_key == closed
        # Each month is a billing-month partition before its run is requested.
        assert instance.get_dynamic_partitions("billing_months") == ["2026-10-01", "2026-12-01", "2026-02-01"]


def test_new_dump_files_sensor_requests_a_load_once_per_change(tmp_path):
    raw = tmp_path / "raw"
    warehouse = TallyWarehouse(raw_dir=str(raw), reference_dir=str(tmp_path / "ref"), db=str(tmp_path / "w.duckdb"))
    with dg.build_sensor_context(resources={"warehouse": warehouse}) as context:
        assert isinstance(new_dump_files_sensor(context), dg.SkipReason)  # no raw dir yet

        dump = write_dump(raw, "samplehc/a.jsonl",
                          [envelope({"eventSlug": "claim-check", "quantity": 1}, account="org_usd")])
        (raw / "samplehc" / "notes.txt").write_text("not a dump")
        first = new_dump_files_sensor(context)
        assert isinstance(first, dg.RunRequest)

    with dg.build_sensor_context(cursor=context.cursor, resources={"warehouse": warehouse}) as context:
        assert isinstance(new_dump_files_sensor(context), dg.SkipReason)  # nothing new since

        write_dump(raw, "tula/2026-10/b.ndjson.gz", ["{}"], gz=True)
        second = new_dump_files_sensor(context)
        assert isinstance(second, dg.RunRequest) and second.run_key != first.run_key

    with dg.build_sensor_context(cursor=context.cursor, resources={"warehouse": warehouse}) as context:
        dump.write_text(dump.read_text() + "\n")
        os.utime(dump, (time.time() + 5, time.time() + 5))
        assert isinstance(new_dump_files_sensor(context), dg.RunRequest)  # a changed file is looked at again


def test_invoices_after_load_asks_for_every_billed_month(tmp_path):
    raw = tmp_path / "raw"
    write_dump(raw, "samplehc/a.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 2, "occurredAt": "2026-08-31T23:00:00Z"}, account="org_usd"),
        envelope({"eventSlug": "claim-check", "quantity": 3, "occurredAt": "2026-10-02T00:00:00Z"}, account="org_usd"),
    ])
    warehouse = TallyWarehouse(raw_dir=str(raw), reference_dir=str(write_reference(tmp_path / "ref")),
                               db=str(tmp_path / "w.duckdb"))
    defs = build_definitions(warehouse)
    with dg.DagsterInstance.ephemeral() as instance:
        load = defs.resolve_job_def("load").execute_in_process(instance=instance)
        assert load.success
        result = invoices_after_load_sensor(_after(load, instance))
        assert isinstance(result, dg.SensorResult)
        [request] = result.run_requests
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-08-01", "2026-10-01")

        cli_run = defs.resolve_job_def("load").execute_in_process(instance=instance, tags={TRIGGER_TAG: "cli"})
        assert isinstance(invoices_after_load_sensor(_after(cli_run, instance)), dg.SkipReason)


def _after(result, instance) -> dg.RunStatusSensorContext:
    return dg.build_run_status_sensor_context(
        sensor_name="invoices_after_load", dagster_instance=instance,
        dagster_run=result.dagster_run, dagster_event=result.get_run_success_event(),
    )
