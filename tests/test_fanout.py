"""Invoices computed per billing month × customer shard from a Parquet snapshot equal, exactly, the
invoices computed in one process over all months: first straight through ``transforms.scale_out``, then
through the ``invoice_fanout`` job with each partition in its own process (multiprocess executor).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from dagster_project.fanout import bound_invoice_fanout
from harness import envelope, run, write_dump
from transforms.marts import invoices_for
from transforms.scale_out import export_billed_usage, shard_invoices
from transforms.warehouse import connect_state

SEPTEMBER, OCTOBER = date(2026, 9, 1), date(2026, 10, 1)


def hc(account, slug, quantity, day):
    return envelope({"eventSlug": slug, "quantity": quantity, "occurredAt": f"{day}T12:00:00Z"},
                    received_at=f"{day}T12:00:01Z", account=account)


def seq(alias, event_type, day, **properties):
    return envelope({"customerAlias": alias, "eventType": event_type, "eventTimestamp": f"{day}T09:00:00Z",
                     "eventProperties": properties}, received_at=f"{day}T09:00:01Z")


def pg(key, customer, metric, quantity, day):
    event = {"idempotencyKey": key, "customerId": customer, "merchantId": "m1", "timestamp": f"{day}T08:00:00Z",
             "properties": [{"billableMetricId": metric, "quantity": quantity}]}
    return envelope({"events": [event]}, received_at=f"{day}T08:00:01Z")


def tula(guid, client, quantity, day):
    return envelope({"billingEventGuid": guid, "eventDateTime": f"{day}T10:00:00Z", "eventTypeId": "Visit",
                     "quantity": quantity}, received_at=f"{day}T10:00:01Z", path=f"/api/v1/BillingEvents/{client}")


def write_two_months(raw: Path) -> None:
    """Five customers in four currencies, billed by all four vendors in September and October 2026, and
    one quarantined line that no invoice may count."""
    write_dump(raw, "samplehc/2026.jsonl", [
        hc("org_usd", "claim-check", 3, "2026-09-05"), hc("org_usd", "claim-check", 4, "2026-10-20"),
        hc("org_usd", "ping", 1, "2026-10-21"), hc("org_usd", "storage", 7, "2026-10-22"),
        hc("org_ny", "claim-check", 10, "2026-09-14"), hc("org_ny", "claim-check", 5, "2026-10-02"),
        hc("org_jpy", "claim-check", 3, "2026-09-09"), hc("org_bhd", "claim-check", 7, "2026-10-11"),
        hc("org_bhd", "claim-check", 1, "2026-09-11"), "{not json",
    ])
    write_dump(raw, "tula/2026.jsonl", [
        tula("5d8e2f4a-1b3c-4d5e-8f90-a1b2c3d4e5f6", "clinic-jpy", 2, "2026-09-03"),
        tula("3f2b6c1e-8d4a-4b7e-9c21-5a0d7e6f4b12", "clinic-jpy", 5, "2026-10-04"),
        tula("9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d", "Clinic%20USD", 1, "2026-10-06"),
    ])
    write_dump(raw, "sequence/2026.jsonl", [
        seq("alias-eur", "message-sent", "2026-09-07", length=1234), seq("alias-eur", "login", "2026-10-07", user="u1"),
        seq("alias-eur", "login", "2026-10-08", user="u2"), seq("alias-eur", "api-call", "2026-10-09"),
        seq("alias-usd", "login", "2026-09-12", user="u1"), seq("alias-usd", "disk", "2026-10-12", gigabytes=3.5),
    ])
    write_dump(raw, "paygentic/2026.jsonl", [
        pg("k1", "cust-bhd", "tokens", 2001, "2026-09-10"), pg("k2", "cust-eur", "tokens", 333, "2026-10-10"),
        pg("k3", "cust-usd", "requests", 2, "2026-10-11"), pg("k4", "cust-bhd", "requests", 4, "2026-10-12"),
    ])


def sorted_frames(lines: pl.DataFrame, invoices: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    return lines.sort("invoice_id", "metric_id", "unit_price"), invoices.sort("invoice_id")


def assert_same(got: tuple[pl.DataFrame, pl.DataFrame], expected: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """Same columns, types (Decimal scale included) and values, row for row."""
    for g, e in zip(got, expected):
        assert g.schema == e.schema
        assert g.rows() == e.rows()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """A working database built by the real chain, the single-process invoices over all its months,
    and its paths; the connection is closed so a job can open the file."""
    root = tmp_path_factory.mktemp("fanout")
    write_two_months(root / "raw")
    result = run(root)
    months = [m for (m,) in result.con.sql(
        "SELECT DISTINCT period_start FROM int_priced_usage WHERE outcome = 'billed' ORDER BY 1").fetchall()]
    assert months == [SEPTEMBER, OCTOBER]
    expected = sorted_frames(*invoices_for(result.con, months))
    assert {c for (c,) in expected[1].select("currency").unique().rows()} == {"USD", "JPY", "BHD", "EUR"}
    result.con.close()
    return root, expected


def test_partitions_together_equal_the_whole(warehouse, tmp_path):
    root, expected = warehouse
    with connect_state(root / "warehouse.duckdb") as con:
        partitions = export_billed_usage(con, tmp_path / "snapshot", shards=2)
    assert {p for p, _ in partitions} == {SEPTEMBER, OCTOBER}
    assert {s for _, s in partitions} == {0, 1}
    parts = [shard_invoices(tmp_path / "snapshot", period, shard) for period, shard in partitions]
    whole = sorted_frames(pl.concat([lines for lines, _ in parts]), pl.concat([inv for _, inv in parts]))
    assert_same(whole, expected)
    shards_of = {}
    for (period, shard), (_, invoices) in zip(partitions, parts):
        assert invoices.height > 0 and set(invoices["period_start"]) == {period}
        for customer in invoices["customer_id"]:
            shards_of.setdefault(customer, set()).add(shard)
    assert all(len(shards) == 1 for shards in shards_of.values()), shards_of


def test_fanout_job_in_separate_processes(warehouse, tmp_path):
    root, expected = warehouse
    job = dg.build_reconstructable_job(
        "dagster_project.fanout", "bound_invoice_fanout",
        reconstructable_kwargs={"raw_dir": str(root / "raw"), "reference_dir": str(root / "reference"),
                                "db": str(root / "warehouse.duckdb")},
    )
    run_config = {
        "ops": {"export_partitions": {"config": {"shards": 2}}},
        "execution": {"config": {"max_concurrent": 2,
                                 "start_method": {"forkserver": {"preload_modules": ["dagster_project.fanout"]}}}},
    }
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = dg.execute_job(job, instance=instance, run_config=run_config)
    assert result.success
    pids = {e.step_key: e.pid for e in result.all_events if e.is_step_start}
    partition_steps = sorted(s for s in pids if s.startswith("partition_invoices["))
    assert partition_steps == [f"partition_invoices[2026_{m}_shard_{s}]" for m in ("09", "10") for s in (0, 1)]
    assert len(set(pids.values())) == len(pids), "each step runs in a process of its own"

    metadata = next(e for e in result.all_events if e.is_successful_output and e.step_key == "gather_invoices")
    counts = {k: v.value for k, v in metadata.step_output_data.metadata.items()}
    assert counts["partitions"] == 4
    assert (counts["invoice_lines"], counts["invoices"]) == (expected[0].height, expected[1].height)

    folder = Path(counts["folder"])
    assert folder.parent == root / "warehouse.fanout"
    got = pl.read_parquet(folder / "invoice_lines.parquet"), pl.read_parquet(folder / "invoices.parquet")
    assert_same(got, expected)


def test_no_billed_usage_gathers_nothing(tmp_path):
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", ["{not json"])
    run(tmp_path).con.close()
    result = bound_invoice_fanout(db=str(tmp_path / "warehouse.duckdb")).execute_in_process()
    assert result.success
    output = next(e for e in result.all_events if e.is_successful_output and e.step_key == "gather_invoices")
    counts = {k: v.value for k, v in output.step_output_data.metadata.items() if k != "folder"}
    assert counts == {"partitions": 0, "invoice_lines": 0, "invoices": 0}
    assert not list(Path(result.output_for_node("gather_invoices")).glob("*.parquet"))
