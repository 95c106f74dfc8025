"""SPEC §6 Guards: contracts that state what the rules produce (never failing on a quarantined record),
blocking on every stage, a publication gate no job bypasses, and conservation between layers.

Through the paths users take: `tally run` (``run_pipeline``) and the Dagster jobs as a schedule, a
sensor or the UI launch them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from dagster_project import build_definitions
from dagster_project.resources import TallyWarehouse
from harness import envelope, force_contract_failure, run, write_dump, write_reference
from transforms import audit, contracts
from transforms.warehouse import connect_state, publish

PUBLISH = dg.AssetKey(["publish", "warehouse"])
OCTOBER = "2026-10-01"
NEGATIVE_PRICE = envelope(
    {"billingEventGuid": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "eventDateTime": "2026-10-06T10:00:00+09:00",
     "eventTypeId": "Visit", "quantity": 1, "price": -3}, received_at="2026-10-06T01:00:00Z",
    path="/api/v1/BillingEvents/clinic-jpy")


def dumps(raw: Path) -> None:
    write_dump(raw, "samplehc/2026-10.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 4, "occurredAt": "2026-10-05T12:00:00Z"},
                 received_at="2026-10-05T12:00:01Z", account="org_usd"),
    ])
    write_dump(raw, "tula/2026-10.ndjson", [
        envelope({"billingEventGuid": "3f2b6c1e-8d4a-4b7e-9c21-5a0d7e6f4b12", "eventDateTime": "2026-10-04T10:00:00+09:00",
                  "eventTypeId": "Visit", "quantity": 2, "price": 12.5}, received_at="2026-10-04T01:00:00Z",
                 path="/api/v1/BillingEvents/clinic-jpy"),
        NEGATIVE_PRICE,  # quarantined invalid_value (SPEC §2 step 4)
    ])


def late_usage(raw: Path) -> None:
    """Six more claims for org_usd in October, at 0.50 (before the 15th): +3.00 on c_usd's invoice."""
    write_dump(raw, "samplehc/2026-10-late.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 6, "occurredAt": "2026-10-12T12:00:00Z"},
                 received_at="2026-10-12T12:00:01Z", account="org_usd"),
    ])


# (customer, period_start) -> (currency, total, line_count, event_count)
OCTOBER_INVOICES = {
    ("c_usd", date(2026, 10, 1)): ("USD", Decimal("2.00"), 1, 1),  # 4 × 0.50
    ("c_jpy", date(2026, 10, 1)): ("JPY", Decimal("25"), 1, 1),  # 2 × 12.5; the -3 event is quarantined
}
WITH_LATE_USAGE = {**OCTOBER_INVOICES, ("c_usd", date(2026, 10, 1)): ("USD", Decimal("5.00"), 1, 2)}  # 10 × 0.50


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    raw, reference, db = tmp_path / "raw", write_reference(tmp_path / "reference"), tmp_path / "out" / "warehouse.duckdb"
    dumps(raw)
    defs = build_definitions(TallyWarehouse(raw_dir=str(raw), reference_dir=str(reference), db=str(db)))
    return defs, raw, reference, db, dg.DagsterInstance.ephemeral()


def published(db: Path, table: str = "invoices") -> dict | list:
    with duckdb.connect(str(db), read_only=True) as con:
        if table == "invoices":
            return {(c, p): tuple(rest) for c, p, *rest in con.sql(
                "SELECT customer_id, period_start, currency, total, line_count, event_count FROM invoices").fetchall()}
        return con.sql(f"SELECT source_file, line_number FROM {table} ORDER BY ALL").fetchall()


def evaluations(result) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


# ---------------------------------------------------------------------------------------------------
# a. Contracts state what the rules produce


def _frame(con, schema, relation: str) -> pl.DataFrame:
    return con.sql(f"SELECT {', '.join(contracts.columns(schema))} FROM {relation} ORDER BY ALL").pl()


def test_contracts_pass_quarantined_records_and_catch_broken_ones(tmp_path):
    dumps(tmp_path / "raw")
    result = run(tmp_path)
    assert result.outcome("tula/2026-10.ndjson", 2) == ("quarantined", "invalid_value")
    staged = _frame(result.con, contracts.STAGED_LINES, "staged_lines")
    priced = _frame(result.con, contracts.PRICED_USAGE, "int_priced_usage")
    result.con.close()
    negative = pl.col("unit_price") < 0
    assert staged.filter(negative).height == 1  # staging keeps the price it quarantined
    # Priced usage leaves the price of a quarantined record out; had it kept it, still no failure.
    quarantined = pl.col("outcome") == "quarantined"
    priced = priced.with_columns(unit_price=pl.when(quarantined).then(pl.lit(Decimal("-3")).cast(
        priced["unit_price"].dtype)).otherwise(pl.col("unit_price")))
    assert priced.filter(negative).height == 1

    assert contracts.failures(contracts.STAGED_LINES, staged) is None
    assert contracts.failures(contracts.PRICED_USAGE, priced) is None

    # The same line had the rules not quarantined it: a negative unit price the contract must catch.
    not_quarantined = staged.with_columns(reason=pl.when(negative).then(None).otherwise(pl.col("reason")))
    failures = contracts.failures(contracts.STAGED_LINES, not_quarantined)
    assert failures is not None and "no negative unit price" in " ".join(failures["check"].cast(str))
    billed = priced.with_columns(
        outcome=pl.when(negative).then(pl.lit("billed")).otherwise(pl.col("outcome")),
        reason=pl.when(negative).then(None).otherwise(pl.col("reason")))
    failures = contracts.failures(contracts.PRICED_USAGE, billed)
    assert failures is not None and "no negative unit price" in " ".join(failures["check"].cast(str))
    # A negative quantity on a line standing is caught too.
    minus = staged.with_columns(quantity=pl.when(pl.col("reason").is_null()).then(-pl.col("quantity"))
                                .otherwise(pl.col("quantity")))
    assert contracts.failures(contracts.STAGED_LINES, minus) is not None
    # A line staged twice breaks the staging contract's key.
    assert contracts.failures(contracts.STAGED_LINES, pl.concat([staged, staged.head(1)])) is not None


def test_raw_contract_catches_a_bearer_token_stored_in_a_raw_line(tmp_path):
    """The raw contract reads a column it derives in the database (the envelopes stay there): a stored
    line that still holds a bearer token fails it, the redacted ones pass."""
    dumps(tmp_path / "raw")
    result = run(tmp_path)
    con = result.con
    assert contracts.failures(contracts.RAW_LINES, _frame(con, contracts.RAW_LINES, "raw_samplehc")) is None
    con.execute("""UPDATE raw_samplehc SET envelope = replace(envelope, '"body"',
                   '"headers": {"authorization": "Bearer sk_live_0123456789"}, "body"') WHERE line_number = 1""")
    failures = contracts.failures(contracts.RAW_LINES, _frame(con, contracts.RAW_LINES, "raw_samplehc"))
    con.close()
    assert failures is not None and "a bearer token survived redaction" in " ".join(failures["check"].cast(str))


def test_quarantined_negative_price_passes_every_check(site):
    """Ordinary data with a quarantined tula price: every (blocking) check passes, in both jobs and in
    `tally run`, and the invoices are published."""
    from dagster_project.runner import run_pipeline

    defs, raw, reference, db, instance = site
    for job, kwargs in (("load", {}), ("invoice", {"partition_key": OCTOBER})):
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, **kwargs)
        assert result.success
        checks = evaluations(result)
        assert checks and all(e.passed for e in checks.values()), {k: e.passed for k, e in checks.items()}
        # Blocking, but for the raw assets' files_readable, which warns of refused files.
        assert all(e.blocking != (name == "files_readable") for (_, name), e in checks.items())
    assert ("staging/tula", "pandera_contract") in evaluations(
        defs.resolve_job_def("load").execute_in_process(instance=instance))
    assert published(db) == OCTOBER_INVOICES
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql("SELECT source_file, line_number, reason FROM quarantine").fetchall() == [
            ("tula/2026-10.ndjson", 2, "invalid_value")]

    # `tally run` over the same folder: nothing new, nothing refused.
    late_usage(raw)
    summary = run_pipeline(raw, reference, db, instance=instance)
    assert summary.periods == [date(2026, 10, 1)]
    assert published(db) == WITH_LATE_USAGE


def test_blocking_checks_are_the_gates_checks():
    """Every asset check is blocking, and the publication gate knows each of them by name."""
    defs = build_definitions(TallyWarehouse(raw_dir="r", reference_dir="f", db="d.duckdb"))
    graph = defs.resolve_asset_graph()
    blocking = {k for k in graph.asset_check_keys if graph.get_check_spec(k).blocking}
    keys = {f"{k.asset_key.to_user_string()}:{k.name}" for k in blocking}
    assert keys == set(audit.CHECKS)
    assert {k.name for k in set(graph.asset_check_keys) - blocking} == {"files_readable"}
    assert {"intermediate/priced_usage:raw_lines_are_staged", "marts/reconciliation:records_are_reconciled",
            "staging/tula:pandera_contract", "raw/tula:pandera_contract"} <= keys


# ---------------------------------------------------------------------------------------------------
# b. The gate: a failed contract or check stops publication, in every job, until it passes


@pytest.mark.parametrize("schema, asset", [("RAW_LINES", "raw/samplehc"), ("STAGED_LINES", "staging/samplehc")])
def test_failed_load_contract_blocks_publication_until_it_passes(site, monkeypatch, schema, asset):
    defs, raw, reference, db, instance = site
    load = defs.resolve_job_def("load")
    assert load.execute_in_process(instance=instance).success
    assert defs.resolve_job_def("invoice").execute_in_process(instance=instance, partition_key=OCTOBER).success
    before = db.read_bytes()
    lines_before = published(db, "usage_events")

    late_usage(raw)
    force_contract_failure(monkeypatch, getattr(contracts, schema))
    result = load.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    check = evaluations(result)[(asset, "pandera_contract")]
    assert not check.passed and check.blocking
    assert PUBLISH not in {e.asset_key for e in result.get_asset_materialization_events()}
    assert db.read_bytes() == before

    # A rerun with nothing new does not forget the failure: the load is checked again, and fails again.
    result = load.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    assert not evaluations(result)[(asset, "pandera_contract")].passed
    assert db.read_bytes() == before
    # Nor does the invoice job publish past it.
    result = defs.resolve_job_def("invoice").execute_in_process(
        instance=instance, partition_key=OCTOBER, raise_on_error=False)
    assert not result.success
    assert db.read_bytes() == before

    # The cause fixed, the next load checks that load again, passes and publishes it.
    monkeypatch.undo()
    result = load.execute_in_process(instance=instance)
    assert result.success
    assert evaluations(result)[(asset, "pandera_contract")].metadata["rows_checked"].value == 1
    assert published(db, "usage_events") == sorted([*lines_before, ("samplehc/2026-10-late.jsonl", 1)])
    assert defs.resolve_job_def("invoice").execute_in_process(instance=instance, partition_key=OCTOBER).success
    assert published(db) == WITH_LATE_USAGE


def test_failed_invoice_check_is_not_published_by_the_next_load(site, monkeypatch):
    """The invoice job fails a blocking check; the next scheduled `load` job must not publish those
    invoices; once the cause is gone, the next invoice run checks them again and publishes."""
    defs, raw, reference, db, instance = site
    load, invoice = defs.resolve_job_def("load"), defs.resolve_job_def("invoice")
    assert load.execute_in_process(instance=instance).success
    assert invoice.execute_in_process(instance=instance, partition_key=OCTOBER).success
    late_usage(raw)
    assert load.execute_in_process(instance=instance).success  # publishes the new usage line
    assert published(db) == OCTOBER_INVOICES
    before = db.read_bytes()

    force_contract_failure(monkeypatch, contracts.INVOICES)
    result = invoice.execute_in_process(instance=instance, partition_key=OCTOBER, raise_on_error=False)
    assert not result.success
    assert not evaluations(result)[("marts/invoices", "pandera_contract")].passed
    assert db.read_bytes() == before
    monkeypatch.undo()

    result = load.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success, "the load job published invoices that failed their checks"
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "marts/invoices:pandera_contract" in failure.step_failure_data.user_failure_data.description
    assert db.read_bytes() == before
    assert published(db) == OCTOBER_INVOICES

    # The month stays to be invoiced: the sensor's and `tally run`'s list of months still has it.
    warehouse = TallyWarehouse(raw_dir=str(raw), reference_dir=str(reference), db=str(db))
    with warehouse.connect() as con:
        from transforms.marts import stale_periods

        assert stale_periods(con) == [date(2026, 10, 1)]
    result = invoice.execute_in_process(instance=instance, partition_key=OCTOBER)
    assert result.success
    assert published(db) == WITH_LATE_USAGE
    with warehouse.connect() as con:
        assert stale_periods(con) == []
    assert load.execute_in_process(instance=instance).success


def test_tally_run_after_a_failed_invoice_check(site, monkeypatch):
    """`tally run` fails on the invoice check; a Dagster `load` in between publishes nothing; the next
    `tally run` re-invoices the month and publishes it."""
    from dagster_project.runner import RunFailed, run_pipeline

    defs, raw, reference, db, instance = site
    run_pipeline(raw, reference, db, instance=instance)
    assert published(db) == OCTOBER_INVOICES
    before = db.read_bytes()

    late_usage(raw)
    real = audit.violations
    monkeypatch.setattr(audit, "violations", lambda con, name, params=None: (
        pl.DataFrame({"invoice_id": ["forced"]}) if name == "total_is_sum_of_lines" else real(con, name, params)))
    with pytest.raises(RunFailed, match="marts/invoices:total_is_sum_of_lines"):
        run_pipeline(raw, reference, db, instance=instance)
    assert db.read_bytes() == before
    monkeypatch.undo()

    result = defs.resolve_job_def("load").execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    assert db.read_bytes() == before

    summary = run_pipeline(raw, reference, db, instance=instance)
    assert summary.periods == [date(2026, 10, 1)]
    assert published(db) == WITH_LATE_USAGE


def test_publish_refuses_what_failed_or_was_not_checked(tmp_path):
    dumps(tmp_path / "raw")
    result = run(tmp_path)
    con, db = result.con, tmp_path / "warehouse.duckdb"
    published = db.read_bytes()
    audit.record(con, "staging/tula:pandera_contract", False, audit.marker(con, audit.LOADS), "| row |")
    with pytest.raises(audit.PublicationRefused, match=r"staging/tula:pandera_contract.*\n\| row \|"):
        publish(con, db)
    assert db.read_bytes() == published

    audit.record(con, "staging/tula:pandera_contract", True, audit.marker(con, audit.LOADS))
    assert audit.refusal(con) is None
    # A Dagster publication requires every check of data that exist: here the invoice checks never ran.
    con.execute("DELETE FROM int_check_results WHERE starts_with(check_key, 'marts/invoice')")
    with pytest.raises(audit.PublicationRefused, match="marts/invoices:total_is_sum_of_lines"):
        publish(con, db, require_checks=True)
    # A result taken on other data than there are now does not count.
    audit.record(con, "staging/tula:pandera_contract", True, "0")
    with pytest.raises(audit.PublicationRefused, match="staging/tula:pandera_contract"):
        publish(con, db)
    audit.record(con, "staging/tula:pandera_contract", True, audit.marker(con, audit.LOADS))
    assert publish(con, db) is False  # through the gate; the published file is already up to date
    con.close()


# ---------------------------------------------------------------------------------------------------
# c. Conservation between layers


def _check(name: str, asset: str):
    from dagster_project.checks import BY_KEY

    return BY_KEY[f"{asset}:{name}"].run


def _rows(result: dg.AssetCheckResult) -> str:
    return result.metadata["preview"].value


def test_conservation_checks_name_the_records_that_went_missing(tmp_path):
    dumps(tmp_path / "raw")
    result = run(tmp_path)
    result.con.execute("DELETE FROM stg_tula WHERE line_number = 2")
    result.con.execute("DELETE FROM raw_tula WHERE line_number = 1")
    result.con.execute("DELETE FROM int_priced_usage WHERE source = 'samplehc'")
    # As in a working database whose checks never ran: the incremental ones then read every load.
    result.con.execute("DELETE FROM int_check_results")
    result.con.close()
    warehouse = TallyWarehouse(raw_dir=str(tmp_path / "raw"), reference_dir=str(tmp_path / "reference"),
                               db=str(tmp_path / "warehouse.duckdb"))

    staged = _check("raw_lines_are_staged", "intermediate/priced_usage")(warehouse=warehouse)
    assert not staged.passed
    # tula line 2 lost its staged rows, tula line 1 its raw line
    assert staged.metadata["dagster/row_count"].value == 2
    assert "raw line without staged rows" in _rows(staged) and "staged rows without a raw line" in _rows(staged)
    with connect_state(tmp_path / "warehouse.duckdb") as con:
        assert audit.violations(con, "raw_lines_are_staged", [0, 2**62]).rows() == [
            ("staged rows without a raw line", "tula", "tula/2026-10.ndjson", 1),
            ("raw line without staged rows", "tula", "tula/2026-10.ndjson", 2),
        ]

    priced = _check("every_record_one_outcome", "intermediate/priced_usage")(warehouse=warehouse)
    assert not priced.passed
    # samplehc: 1 staged line, none priced; tula: 1 staged line left, 2 priced
    assert priced.metadata["dagster/row_count"].value == 2
    assert "samplehc" in _rows(priced) and "tula" in _rows(priced)

    reconciled = _check("records_are_reconciled", "marts/reconciliation")(warehouse=warehouse)
    assert not reconciled.passed  # the reconciliation still counts the samplehc record
    assert reconciled.metadata["dagster/row_count"].value == 1 and "samplehc" in _rows(reconciled)

    with warehouse.connect() as con:
        failed = con.sql("SELECT check_key FROM int_check_results WHERE NOT passed ORDER BY 1").fetchall()
    assert failed == [("intermediate/priced_usage:every_record_one_outcome",),
                      ("intermediate/priced_usage:raw_lines_are_staged",),
                      ("marts/reconciliation:records_are_reconciled",)]


def test_a_run_with_nothing_new_validates_no_load_again(site):
    defs, raw, reference, db, instance = site
    load = defs.resolve_job_def("load")
    first = evaluations(load.execute_in_process(instance=instance))
    assert first[("raw/tula", "pandera_contract")].metadata["rows_checked"].value == 2
    assert first[("staging/tula", "pandera_contract")].metadata["rows_checked"].value == 2
    again = evaluations(load.execute_in_process(instance=instance))
    assert {k: e.metadata["rows_checked"].value for k, e in again.items() if k[1] == "pandera_contract"} == {
        ("raw/samplehc", "pandera_contract"): 0, ("raw/tula", "pandera_contract"): 0,
        ("raw/sequence", "pandera_contract"): 0, ("raw/paygentic", "pandera_contract"): 0,
        ("staging/samplehc", "pandera_contract"): 0, ("staging/tula", "pandera_contract"): 0,
        ("staging/sequence", "pandera_contract"): 0, ("staging/paygentic", "pandera_contract"): 0,
        ("intermediate/priced_usage", "pandera_contract"): 0,
    }
    assert all(e.passed for e in again.values())


def test_the_priced_usage_contract_checks_every_line_in_batches_that_keep_records_whole(site, monkeypatch):
    """The contract reads its own batch size (``batch_rows``); at one row a batch, a paygentic record of two
    usage lines still comes whole to the record-level rules, and every priced line is checked once."""
    defs, raw, reference, db, instance = site
    write_dump(raw, "paygentic/2026-10.jsonl", [envelope({"events": [
        {"idempotencyKey": "k1", "customerId": "cust-usd", "merchantId": "m1", "timestamp": "2026-10-05T12:00:00Z",
         "properties": [{"billableMetricId": "tokens", "quantity": 100}, {"billableMetricId": "requests", "quantity": 2}]},
        {"idempotencyKey": "k2", "customerId": "cust-usd", "merchantId": "m1", "timestamp": "2026-10-06T12:00:00Z",
         "properties": [{"billableMetricId": "tokens", "quantity": 50}]},
    ]})])
    monkeypatch.setitem(contracts.PRICED_USAGE.metadata, "batch_rows", 1)
    result = defs.resolve_job_def("load").execute_in_process(instance=instance)
    check = evaluations(result)[("intermediate/priced_usage", "pandera_contract")]
    # samplehc 1 line, tula 2 (one quarantined), paygentic 3 (k1: tokens and requests; k2: tokens)
    assert check.passed and check.metadata["rows_checked"].value == 6


def test_invoices_written_without_their_checks_are_not_published(site):
    """Invoices rewritten by a run that stopped before its checks (killed, say): no job publishes them
    until an invoice run has checked them, and `tally run` invoices that month again by itself."""
    from dagster_project.runner import run_pipeline
    from transforms import marts

    defs, raw, reference, db, instance = site
    run_pipeline(raw, reference, db, instance=instance)
    before = db.read_bytes()
    late_usage(raw)
    load = defs.resolve_job_def("load")
    unpublished = [k for k in load.asset_layer.executable_asset_keys if k != PUBLISH]
    assert load.execute_in_process(instance=instance, asset_selection=unpublished).success
    warehouse = TallyWarehouse(raw_dir=str(raw), reference_dir=str(reference), db=str(db))
    with warehouse.connect() as con:
        marts.rebuild_invoices(con, [date(2026, 10, 1)])  # the write of a run that stopped here
        assert con.sql("SELECT count(*) FROM int_stale_periods").fetchall() == [(0,)]
        assert marts.stale_periods(con) == [date(2026, 10, 1)]

    result = load.execute_in_process(instance=instance, asset_selection=[PUBLISH], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "not passed on the data as they are now" in failure.step_failure_data.user_failure_data.description
    assert db.read_bytes() == before

    summary = run_pipeline(raw, reference, db, instance=instance)
    assert summary.periods == [date(2026, 10, 1)]
    assert published(db) == WITH_LATE_USAGE
