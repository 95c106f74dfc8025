"""No calendar limit (SPEC §4): usage dated in 1999, 2035, year 0001 or 9999 is invoiced in its month like any
other, through `tally run`, the schedule and the sensor, and no record's date makes a run fail.

Only a local billing month that is not in years 0001–9999 (an instant within a day of the ends of RFC 3339's
range, seen from a time zone across the end; or year 0000) cannot be a DATE every reader handles: such a
record is quarantined `invalid_value`, never a failed run (docs/design.md, "Billing calendar").
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project import build_definitions
from dagster_project.cli import main
from dagster_project.jobs import invoices_after_load_sensor, monthly_invoice_schedule
from dagster_project.partitions import BILLING_MONTHS, add_billing_months, covering_range
from dagster_project.resources import TallyWarehouse
from dagster_project.runner import run_pipeline
from harness import envelope, persistent_instance, write_dump, write_reference

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def _claim(account: str, quantity: int, occurred_at: str, received_at: str = "2026-10-03T12:00:00Z") -> dict:
    return envelope({"eventSlug": "claim-check", "quantity": quantity, "occurredAt": occurred_at},
                    received_at, account=account)


# samplehc claims: c_usd (UTC) pays 0.50 until 2026-10-15 and 0.55 from then (open at both ends), c_ny
# (America/New_York) 0.40 always, c_jpy (Asia/Tokyo) 60 JPY.
LINES = [
    _claim("org_usd", 3, "1999-12-31T23:30:00-05:00"),  # 1 UTC 2000-01-01 04:30 → 2000-01
    _claim("org_usd", 2, "2035-06-01T00:00:00Z"),  # 2 → 2035-06, at 0.55
    _claim("org_usd", 4, "0001-01-01T00:00:00Z"),  # 3 → 0001-01
    _claim("org_usd", 1, "9999-12-31T23:59:59Z"),  # 4 → 9999-12, at 0.55
    _claim("org_usd", 10, "2026-10-03T12:00:00Z"),  # 5 an ordinary month
    _claim("org_ny", 5, "1999-12-31T23:30:00-05:00"),  # 6 New York 1999-12-31 23:30 → 1999-12
    _claim("org_ny", 2, "9999-12-31T23:59:59Z"),  # 7 New York 9999-12-31 18:59 → 9999-12
    _claim("org_ny", 1, "2026-10-05T12:00:00Z"),  # 8
    _claim("org_ny", 1, "0001-01-01T00:00:00Z"),  # 9 New York 31 December 1 BC: no billing month
    _claim("org_jpy", 1, "9999-12-31T23:59:59Z"),  # 10 Tokyo 10000-01-01 08:59: no billing month
    _claim("org_jpy", 7, "0001-01-01T00:00:00Z"),  # 11 Tokyo 0001-01-01 09:18 (local mean time) → 0001-01
    _claim("org_usd", 1, "0000-06-15T00:00:00Z"),  # 12 year 0000 (1 BC): no billing month anywhere
    _claim("org_usd", 1, "9999-12-31T23:00:00-05:00"),  # 13 UTC 10000-01-01 04:00: no billing month
    _claim("org_ny", 3, "9999-12-31T23:00:00-05:00"),  # 14 but New York 9999-12-31 23:00 → 9999-12
]

EXPECTED = {  # invoice_id -> (period_start, period_end, currency, total, line_count, event_count)
    "INV-000101-c_jpy": ("0001-01-01", "0001-02-01", "JPY", Decimal("420"), 1, 1),
    "INV-000101-c_usd": ("0001-01-01", "0001-02-01", "USD", Decimal("2.00"), 1, 1),
    "INV-199912-c_ny": ("1999-12-01", "2000-01-01", "USD", Decimal("2.00"), 1, 1),
    "INV-200001-c_usd": ("2000-01-01", "2000-02-01", "USD", Decimal("1.50"), 1, 1),
    "INV-202610-c_ny": ("2026-10-01", "2026-11-01", "USD", Decimal("0.40"), 1, 1),
    "INV-202610-c_usd": ("2026-10-01", "2026-11-01", "USD", Decimal("5.00"), 1, 1),
    "INV-203506-c_usd": ("2035-06-01", "2035-07-01", "USD", Decimal("1.10"), 1, 1),
    "INV-999912-c_ny": ("9999-12-01", "10000-01-01", "USD", Decimal("2.00"), 1, 2),
    "INV-999912-c_usd": ("9999-12-01", "10000-01-01", "USD", Decimal("0.55"), 1, 1),
}
MONTHS = sorted({period for period, *_ in EXPECTED.values()})


def _invoices(db) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql("SELECT invoice_id, period_start::VARCHAR, period_end::VARCHAR, currency, total, line_count, "
                       "event_count FROM invoices ORDER BY invoice_id").fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def _outcomes(db) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql("SELECT line_number, outcome, reason, period_start::VARCHAR FROM usage_events "
                       "ORDER BY line_number").fetchall()
    return {line: tuple(rest) for line, *rest in rows}


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    raw = tmp_path / "raw"
    write_dump(raw, "samplehc/far.jsonl", LINES)
    return raw, write_reference(tmp_path / "ref"), tmp_path / "out" / "warehouse.duckdb"


def test_tally_run_invoices_every_month_in_its_month(inputs):
    raw, reference, db = inputs
    summary = run_pipeline(raw, reference, db)  # an ephemeral Dagster instance, as `tally run` without DAGSTER_HOME

    assert [p.isoformat() for p in summary.periods] == MONTHS
    assert summary.invoices == summary.invoices_total == len(EXPECTED)
    assert _invoices(db) == EXPECTED
    outcomes = _outcomes(db)
    billed = {line for line, (outcome, _, _) in outcomes.items() if outcome == "billed"}
    assert billed == {1, 2, 3, 4, 5, 6, 7, 8, 11, 14}
    for line in (9, 10, 12, 13):  # the local month is 1 BC December or 10000 January: not a month tally can bill
        assert outcomes[line] == ("quarantined", "invalid_value", None)
    assert outcomes[1][2] == "2000-01-01" and outcomes[6][2] == "1999-12-01"

    with duckdb.connect(str(db), read_only=True) as con:
        detail = con.sql("SELECT detail FROM quarantine WHERE line_number = 10").fetchall()[0][0]
    assert "10000-01-01" in detail and "Asia/Tokyo" in detail and "0001-01 to 9999-12" in detail

    documents = db.parent / "invoices"
    assert sorted(p.name for p in documents.iterdir() if p.is_dir()) == [m[:7] for m in MONTHS]
    page = (documents / "9999-12" / "INV-999912-c_usd.html").read_text()
    assert "1 December 9999 – 31 December 9999" in page
    assert "1 January 1 – 31 January 1" in (documents / "0001-01" / "INV-000101-c_usd.html").read_text()


def test_cli_run_exits_0_and_a_later_back_dated_month_is_invoiced(inputs, capsys):
    raw, reference, db = inputs
    args = ["run", "--raw-dir", str(raw), "--reference-dir", str(reference), "--db", str(db)]
    assert main(args) == 0
    assert _invoices(db) == EXPECTED
    capsys.readouterr()
    # The far months and a record outside 0001-01 to 9999-12 in its customer's time zone are explained.
    assert main(["explain", "INV-999912-c_ny", "--db", str(db)]) == 0
    assert "9999-12-01 to 10000-01-01 (exclusive)" in capsys.readouterr().out
    assert main(["explain", "samplehc/far.jsonl:9", "--db", str(db)]) == 0
    assert "outside the billing months 0001-01 to 9999-12" in capsys.readouterr().out
    for record in ("samplehc/far.jsonl:12", "samplehc/far.jsonl:13"):  # instants of UTC years 0000 and 10000
        assert main(["explain", record, "--db", str(db)]) == 0
        assert "quarantined (invalid_value)" in capsys.readouterr().out

    # A month before every month seen so far, and one between them: each is invoiced in its month, and
    # the months already invoiced stay as they were.
    write_dump(raw, "samplehc/late.jsonl", [
        _claim("org_usd", 6, "1970-01-01T00:00:00Z"),  # 6 × 0.50
        _claim("org_usd", 1, "2035-06-30T23:59:59.999999Z"),  # joins 2035-06: 3 × 0.55
    ])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1970-01" in out
    expected = {**EXPECTED,
                "INV-197001-c_usd": ("1970-01-01", "1970-02-01", "USD", Decimal("3.00"), 1, 1),
                "INV-203506-c_usd": ("2035-06-01", "2035-07-01", "USD", Decimal("1.65"), 1, 2)}
    assert _invoices(db) == expected

    assert main(args) == 0  # nothing new: nothing stale, nothing invoiced, still a clean run
    assert _invoices(db) == expected


def test_a_persistent_instance_gets_the_months_and_invoices_them(inputs, tmp_path):
    raw, reference, db = inputs
    invoices = dg.AssetKey(["marts", "invoices"])

    def invoiced(instance) -> list[str]:  # partitions of marts/invoices materialized, newest run first
        records = instance.fetch_materializations(invoices, limit=1000).records
        return [r.event_log_entry.dagster_event.partition for r in records]

    with persistent_instance(tmp_path) as instance:
        instance.add_dynamic_partitions(BILLING_MONTHS, ["2026-10-01"])  # known from an earlier run
        summary = run_pipeline(raw, reference, db, instance=instance)
        later = [m for m in MONTHS if m != "2026-10-01"]  # added after it, in calendar order
        assert instance.get_dynamic_partitions(BILLING_MONTHS) == ["2026-10-01", *later]
        assert [p.isoformat() for p in summary.periods] == MONTHS
        assert sorted(invoiced(instance)) == MONTHS
        assert _invoices(db) == EXPECTED

        # Back-dated usage after the far months: its month is added last, so the one invoice run goes
        # from 2035-06 (the other stale month) to 1970-01 in partition order; 9999-12 between them is
        # rebuilt unchanged. The summary names the months that changed.
        write_dump(raw, "samplehc/late.jsonl", [  # received apart from the first lines (no re-delivery group)
            _claim("org_usd", 6, "1970-01-01T00:00:00Z", "2026-11-01T00:00:00Z"),
            _claim("org_usd", 1, "2035-06-30T23:59:59.999999Z", "2026-11-01T00:00:01Z"),
        ])
        before = len(invoiced(instance))
        summary = run_pipeline(raw, reference, db, instance=instance)
        assert instance.get_dynamic_partitions(BILLING_MONTHS)[-1] == "1970-01-01"
        assert [p.isoformat() for p in summary.periods] == ["1970-01-01", "2035-06-01"]
        assert summary.invoices == 2
        assert sorted(invoiced(instance)[: len(invoiced(instance)) - before]) == ["1970-01-01", "2035-06-01",
                                                                                  "9999-12-01"]
    assert _invoices(db) == {
        **EXPECTED,
        "INV-197001-c_usd": ("1970-01-01", "1970-02-01", "USD", Decimal("3.00"), 1, 1),
        "INV-203506-c_usd": ("2035-06-01", "2035-07-01", "USD", Decimal("1.65"), 1, 2),
    }


def test_covering_range_follows_the_partition_order():
    keys = ["2026-09-01", "2026-10-01", "1999-12-01", "9999-12-01"]  # 1999-12 and 9999-12 added later
    assert covering_range(keys, ["2026-10-01"]) == ["2026-10-01"]
    assert covering_range(keys, ["2026-10-01", "9999-12-01"]) == ["2026-10-01", "1999-12-01", "9999-12-01"]
    assert covering_range(keys, []) == []
    with pytest.raises(ValueError, match="2035-06-01"):
        covering_range(keys, ["2035-06-01"])


def test_sensor_and_schedule_request_far_months(inputs, tmp_path):
    raw, reference, db = inputs
    warehouse = TallyWarehouse(raw_dir=str(raw), reference_dir=str(reference), db=str(db))
    defs = build_definitions(warehouse)
    with persistent_instance(tmp_path) as instance:
        load = defs.resolve_job_def("load").execute_in_process(instance=instance)
        assert load.success
        # Pricing made every billed month a partition, in calendar order.
        assert instance.get_dynamic_partitions(BILLING_MONTHS) == MONTHS

        context = dg.build_run_status_sensor_context(
            sensor_name="invoices_after_load", dagster_instance=instance,
            dagster_run=load.dagster_run, dagster_event=load.get_run_success_event())
        result = invoices_after_load_sensor(context)
        assert isinstance(result, dg.SensorResult)
        [request] = result.run_requests
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == (MONTHS[0], MONTHS[-1])
        [added] = result.dynamic_partitions_requests
        assert added.partitions_def_name == BILLING_MONTHS and sorted(added.partition_keys) == MONTHS

        # The requested run invoices every month, far ones included.
        invoice = defs.resolve_job_def("invoice").execute_in_process(instance=instance, tags=request.tags)
        assert invoice.success
        assert _invoices(db) == EXPECTED

        # The schedule asks for the month just closed and makes it a partition when no usage did.
        for tick, closed in [(datetime(2026, 11, 1, 6, tzinfo=timezone.utc), "2026-10-01"),
                             (datetime(2036, 1, 1, 6, tzinfo=timezone.utc), "2035-12-01")]:
            # The context opens the instance again from its ref; `with` closes it (a schedule tick does).
            with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context:
                request = monthly_invoice_schedule(context)
            assert request.partition_key == closed
            assert closed in instance.get_dynamic_partitions(BILLING_MONTHS)
        assert defs.resolve_job_def("invoice").execute_in_process(instance=instance, partition_key="2035-12-01").success
        assert _invoices(db) == EXPECTED


def test_add_billing_months_adds_only_new_months_in_calendar_order():
    with dg.DagsterInstance.ephemeral() as instance:
        assert add_billing_months(instance, ["2026-10-01", "0001-01-01"]) == ["0001-01-01", "2026-10-01"]
        assert add_billing_months(instance, ["2026-10-01", "1999-12-01"]) == ["1999-12-01"]
        assert instance.get_dynamic_partitions(BILLING_MONTHS) == ["0001-01-01", "2026-10-01", "1999-12-01"]
