"""The close job and the monthly_close schedule (SPEC §7 "Orchestration"), as the UI and the daemon run them."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb

from dagster_project.definitions import build_definitions
from dagster_project.jobs import monthly_close_schedule
from dagster_project.partitions import add_billing_months
from dagster_project.resources import TallyWarehouse
from harness import dagster_instance, persistent_instance, run, write_dump
from test_lifecycle import SEPT, claim, issued_files, reference


def test_monthly_close_is_off_by_default_and_closes_the_month_just_ended_after_the_grace(tmp_path):
    defs = build_definitions(TallyWarehouse(db=str(tmp_path / "w.duckdb")))
    schedule = defs.resolve_schedule_def("monthly_close")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule == "0 6 4 * *"  # 1 + the default grace of 3 days
    assert schedule.job_name == "close"
    with persistent_instance(tmp_path) as instance:
        tick = datetime(2026, 11, 4, 6, tzinfo=UTC)
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context:
            request = monthly_close_schedule(context)
        assert instance.get_dynamic_partitions("billing_months") == ["2026-10-01"]
    assert request.partition_key == "2026-10-01"
    assert request.run_config == {"ops": {"lifecycle__close_file": {"config": {"issue_date": "2026-11-04"}}}}


def test_the_close_job_closes_issues_publishes_and_refuses_a_second_close(tmp_path):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [claim(10, "2026-09-10T12:00:00Z", 1)])
    run(tmp_path, reference_dir=tmp_path / "reference").con.close()
    warehouse = TallyWarehouse(raw_dir=str(tmp_path / "raw"), reference_dir=str(tmp_path / "reference"),
                               db=str(tmp_path / "warehouse.duckdb"), control_dir=str(tmp_path / "control"))
    job = build_definitions(warehouse).resolve_job_def("close")
    config = {"ops": {"lifecycle__close_file": {"config": {"issue_date": "2026-10-03"}}}}
    instance = dagster_instance()
    add_billing_months(instance, [SEPT.isoformat()])
    result = job.execute_in_process(partition_key="2026-09-01", run_config=config, instance=instance)
    assert result.success
    assert (tmp_path / "control" / "close-2026-09.json").is_file()
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("SELECT document_number, status, total FROM documents").fetchall() == [
            ("TLY-2026-000001", "issued", 5)]
    files = issued_files(tmp_path)
    assert sorted(files) == ["TLY-2026-000001.pdf", "documents.sha256"]

    again = job.execute_in_process(partition_key="2026-09-01", run_config=config, instance=instance,
                                   raise_on_error=False)
    assert not again.success
    [failure] = [e for e in again.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "closed already" in failure.step_failure_data.user_failure_data.description
    assert issued_files(tmp_path) == files
