"""The Dagster side of tally (SPEC §6): definitions load cleanly, the asset graph is what the snapshot says,
both jobs materialize in process with passing checks, and a failing blocking check keeps the published
warehouse as it was.

The asset-graph snapshot is `tests/snapshots/asset_graph.json`. After an intended change to the graph,
rewrite it with `TALLY_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_dagster.py -k snapshot`, and
review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project import build_definitions
from dagster_project.resources import TallyWarehouse
from harness import envelope, force_contract_failure, write_dump, write_reference
from transforms import contracts

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
PUBLISH = dg.AssetKey(["publish", "warehouse"])
DAGSTER = Path(sys.executable).with_name("dagster")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "DAGSTER_HOME"))}


# ---------------------------------------------------------------------------------------------------
# Definitions


def test_definitions_validate(tmp_path):
    """`dagster definitions validate -m dagster_project` passes, without warnings about our definitions."""
    proc = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-m", "dagster_project"],
        cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Validation successful" in output, output
    # The command itself is deprecated in favour of `dg check defs` and says so; that warning is about
    # the CLI, not about the definitions, so it is the only one allowed.
    lines = output.splitlines()
    allowed = set()
    for i, line in enumerate(lines):
        if "SupersessionWarning" in line and "definitions_validate_command" in line:
            allowed.update({i, i + 1})  # the warning and the source line Python prints under it
    warnings = [line for i, line in enumerate(lines) if "warn" in line.lower() and i not in allowed]
    assert warnings == [], output


def _partitions(partitions_def) -> dict | None:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        return {"type": type(partitions_def).__name__, "name": partitions_def.name}
    assert isinstance(partitions_def, dg.TimeWindowPartitionsDefinition), partitions_def
    return {
        "type": type(partitions_def).__name__,
        "cron_schedule": partitions_def.cron_schedule,
        "start": partitions_def.start.strftime("%Y-%m-%d"),
        "timezone": partitions_def.timezone,
        "fmt": partitions_def.fmt,
        "end_offset": partitions_def.end_offset,
    }


def asset_graph_snapshot(defs: dg.Definitions) -> dict:
    """Everything about the graph a rename, a lost dependency or a dropped check would change; sorted."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "group": node.group_name,
            "partitions": _partitions(node.partitions_def),
            "backfill_policy": str(node.backfill_policy.policy_type.value) if node.backfill_policy else None,
        }
    checks = sorted(
        (
            {"asset": key.asset_key.to_user_string(), "name": key.name, "blocking": graph.get(key).blocking}
            for key in graph.asset_check_keys
        ),
        key=lambda c: (c["asset"], c["name"]),
    )
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys),
            "checks": sorted(f"{k.asset_key.to_user_string()}:{k.name}"
                             for k in job.asset_layer.asset_graph.asset_check_keys
                             if k.asset_key in job.asset_layer.executable_asset_keys),
            "partitions": _partitions(job.partitions_def),
        }
    schedules = {
        s.name: {"job": s.job_name, "cron": s.cron_schedule, "timezone": s.execution_timezone}
        for s in sorted(defs.schedules or [], key=lambda s: s.name)
    }
    sensors = {
        s.name: {
            "kind": type(s).__name__,
            "jobs": sorted(t.job_name for t in s.targets),
            "minimum_interval_seconds": s.minimum_interval_seconds,
        }
        for s in sorted(defs.sensors or [], key=lambda s: s.name)
    }
    return {"assets": assets, "asset_checks": checks, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def test_asset_graph_matches_snapshot():
    current = asset_graph_snapshot(build_definitions(TallyWarehouse()))
    text = json.dumps(current, indent=2, sort_keys=True) + "\n"
    if os.environ.get("TALLY_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert current == expected, (
        "the asset graph differs from tests/snapshots/asset_graph.json; if the change is intended, "
        "rewrite it with TALLY_UPDATE_SNAPSHOTS=1 and review the diff")


def test_snapshot_is_deterministic_and_sorted():
    """Two builds give the same text, and the checked-in file is in its canonical (sorted) form."""
    one = json.dumps(asset_graph_snapshot(build_definitions(TallyWarehouse())), indent=2, sort_keys=True)
    two = json.dumps(asset_graph_snapshot(build_definitions(TallyWarehouse())), indent=2, sort_keys=True)
    assert one == two
    stored = SNAPSHOT.read_text(encoding="utf-8")
    assert stored == json.dumps(json.loads(stored), indent=2, sort_keys=True) + "\n"


def test_snapshot_catches_a_renamed_key():
    """The comparison is sensitive to asset keys: renaming one changes the snapshot."""
    snap = asset_graph_snapshot(build_definitions(TallyWarehouse()))
    renamed = json.loads(json.dumps(snap).replace('"marts/invoices"', '"marts/invoice"'))
    assert renamed != json.loads(SNAPSHOT.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------------
# Materializing through Dagster in process


def small_dump(raw: Path) -> None:
    write_dump(raw, "samplehc/2026-10.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 3, "occurredAt": "2026-10-05T12:00:00Z"},
                 received_at="2026-10-05T12:00:01Z", account="org_usd",
                 headers={"Authorization": "Bearer sk_dagster_test_1"}),
        # 2026-10-31 22:00 in New York: October for c_ny (its own price 0.40)
        envelope({"eventSlug": "claim-check", "quantity": 1, "occurredAt": "2026-11-01T02:00:00Z"},
                 received_at="2026-11-01T02:00:01Z", account="org_ny"),
        envelope({"eventSlug": "claim-check", "quantity": 10, "occurredAt": "2026-10-20T12:00:00Z"},
                 received_at="2026-10-20T12:00:01Z", account="org_ny"),
        # September: not part of the 2026-10 partition
        envelope({"eventSlug": "claim-check", "quantity": 2, "occurredAt": "2026-09-10T12:00:00Z"},
                 received_at="2026-09-10T12:00:01Z", account="org_usd"),
        "{not json",
    ])
    write_dump(raw, "tula/2026-10.ndjson", [
        envelope({"billingEventGuid": "5d8e2f4a-1b3c-4d5e-8f90-a1b2c3d4e5f6", "eventDateTime": "2026-10-03T10:00:00+09:00",
                  "eventTypeId": "Visit", "quantity": 2}, received_at="2026-10-03T01:00:00Z",
                 path="/api/v1/BillingEvents/clinic-jpy"),
        envelope({"billingEventGuid": "3f2b6c1e-8d4a-4b7e-9c21-5a0d7e6f4b12", "eventDateTime": "2026-10-04T10:00:00+09:00",
                  "eventTypeId": "Visit", "quantity": 3, "price": 12.5}, received_at="2026-10-04T01:00:00Z",
                 path="/api/v1/BillingEvents/clinic-jpy"),
    ], gz=False)
    write_dump(raw, "sequence/2026-10.jsonl", [
        envelope({"customerAlias": "alias-usd", "eventType": "message-sent", "eventTimestamp": "2026-10-07T00:00:00Z",
                  "eventProperties": {"length": 500}}, received_at="2026-10-07T00:00:01Z"),
    ])
    write_dump(raw, "paygentic/2026-10.jsonl.gz", [
        envelope({"events": [{"idempotencyKey": "p-1", "customerId": "cust-bhd", "merchantId": "m-1",
                              "timestamp": "2026-10-10T00:00:00Z",
                              "properties": [{"billableMetricId": "tokens", "quantity": 2001}]}]},
                 received_at="2026-10-10T00:00:01Z"),
    ], gz=True)


# (customer, period_start) -> (currency, total, line_count, event_count) for the 2026-10 partition
EXPECTED_OCTOBER = {
    ("c_bhd", date(2026, 10, 1)): ("BHD", Decimal("1.000"), 1, 1),  # 2001 × 0.0005 = 1.0005 → 1.000 half-even
    ("c_jpy", date(2026, 10, 1)): ("JPY", Decimal("3038"), 2, 2),  # 2 × 1500 + 3 × 12.5 = 37.5 → 38
    ("c_ny", date(2026, 10, 1)): ("USD", Decimal("4.40"), 1, 2),  # 11 × 0.40
    ("c_usd", date(2026, 10, 1)): ("USD", Decimal("2.00"), 2, 2),  # 3 × 0.50 + 500 × 0.001
}


@pytest.fixture
def setup(tmp_path):
    raw, reference, db = tmp_path / "raw", tmp_path / "reference", tmp_path / "out" / "warehouse.duckdb"
    small_dump(raw)
    write_reference(reference)
    defs = build_definitions(TallyWarehouse(raw_dir=str(raw), reference_dir=str(reference), db=str(db)))
    return defs, raw, db


def published_invoices(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return {(c, p): (cur, t, lc, ec) for c, p, cur, t, lc, ec in con.sql(
            "SELECT customer_id, period_start, currency, total, line_count, event_count FROM invoices").fetchall()}


def expected_checks(job: dg.JobDefinition) -> set[tuple[str, str]]:
    layer = job.asset_layer
    return {(k.asset_key.to_user_string(), k.name) for k in layer.asset_graph.asset_check_keys
            if k.asset_key in layer.executable_asset_keys}


def assert_checks_ran_and_passed(result, job: dg.JobDefinition) -> None:
    evaluations = result.get_asset_check_evaluations()
    ran = {(e.asset_key.to_user_string(), e.check_name) for e in evaluations}
    assert ran == expected_checks(job)
    assert ran, "no asset check ran"
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed]
    assert failed == []


def assert_row_counts(result) -> set[str]:
    materialized = set()
    for event in result.get_asset_materialization_events():
        key = event.asset_key.to_user_string()
        metadata = event.materialization.metadata
        assert "dagster/row_count" in metadata, f"{key} materialized without dagster/row_count"
        assert isinstance(metadata["dagster/row_count"].value, int) and metadata["dagster/row_count"].value >= 0
        materialized.add(key)
    return materialized


def test_load_then_invoice_one_partition(setup):
    defs, raw, db = setup
    instance = dg.DagsterInstance.ephemeral()

    load = defs.resolve_job_def("load")
    result = load.execute_in_process(instance=instance)
    assert result.success
    assert_checks_ran_and_passed(result, load)
    materialized = assert_row_counts(result)
    assert materialized == {k.to_user_string() for k in load.asset_layer.executable_asset_keys}
    assert db.exists(), "the load job publishes the warehouse"
    assert published_invoices(db) == {}

    invoice = defs.resolve_job_def("invoice")
    result = invoice.execute_in_process(instance=instance, partition_key="2026-10-01")
    assert result.success
    assert_checks_ran_and_passed(result, invoice)
    materialized = assert_row_counts(result)
    assert materialized == {"marts/invoice_lines", "marts/invoices", "lifecycle/documents", "publish/warehouse",
                            "publish/invoice_documents", "publish/issued_documents"}
    partitions = {e.asset_key.to_user_string(): e.partition for e in result.get_asset_materialization_events()}
    assert partitions["marts/invoices"] == partitions["marts/invoice_lines"] == "2026-10-01"

    # Exactly the October invoices (September has billed usage but was not in the run's partition).
    assert published_invoices(db) == EXPECTED_OCTOBER
    with duckdb.connect(str(db), read_only=True) as con:
        totals = con.sql("""SELECT i.invoice_id FROM invoices i JOIN invoice_lines l USING (invoice_id)
                            GROUP BY i.invoice_id, i.total HAVING i.total <> sum(l.amount)""").fetchall()
        assert totals == []
        assert "sk_dagster_test_1" not in repr(con.sql("SELECT * FROM quarantine").fetchall())

    # The other month, and then both again: the same invoices, nothing duplicated.
    result = invoice.execute_in_process(instance=instance, partition_key="2026-09-01")
    assert result.success
    september = published_invoices(db)
    assert {k: v for k, v in september.items() if k[1] == date(2026, 10, 1)} == EXPECTED_OCTOBER
    assert {k: v for k, v in september.items() if k[1] == date(2026, 9, 1)} == {
        ("c_usd", date(2026, 9, 1)): ("USD", Decimal("1.00"), 1, 1)}
    assert invoice.execute_in_process(instance=instance, partition_key="2026-10-01").success
    assert published_invoices(db) == september


def _add_new_usage(raw: Path) -> None:
    """New billed usage in October: a publish after this would change the warehouse."""
    write_dump(raw, "samplehc/2026-10-late.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 7, "occurredAt": "2026-10-12T12:00:00Z"},
                 received_at="2026-10-12T12:00:01Z", account="org_usd"),
    ])


@pytest.mark.parametrize("job_name, schema, check_key", [
    ("load", "PRICED_USAGE", ("intermediate/priced_usage", "pandera_contract")),
    ("invoice", "INVOICES", ("marts/invoices", "pandera_contract")),
])
def test_failing_blocking_check_stops_publish(setup, monkeypatch, job_name, schema, check_key):
    defs, raw, db = setup
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("load").execute_in_process(instance=instance).success
    assert defs.resolve_job_def("invoice").execute_in_process(instance=instance, partition_key="2026-10-01").success
    before = db.read_bytes()
    assert published_invoices(db) == EXPECTED_OCTOBER

    _add_new_usage(raw)
    if job_name == "invoice":  # load the new file without publishing, so only the invoice run could publish
        load = defs.resolve_job_def("load")
        unpublished = [k for k in load.asset_layer.executable_asset_keys if k != PUBLISH]
        assert load.execute_in_process(instance=instance, asset_selection=unpublished).success
    force_contract_failure(monkeypatch, getattr(contracts, schema))

    job = defs.resolve_job_def(job_name)
    kwargs = {"partition_key": "2026-10-01"} if job_name == "invoice" else {}
    result = job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)

    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert check_key in evaluations
    assert not evaluations[check_key].passed
    assert evaluations[check_key].blocking
    assert PUBLISH not in {e.asset_key for e in result.get_asset_materialization_events()}
    assert db.read_bytes() == before, "the published warehouse changed although a blocking check failed"
    assert not list(db.parent.glob(f"{db.name}.tmp*")), "a half-written publish was left behind"


def test_failing_blocking_check_fails_tally_run(setup, monkeypatch):
    """`tally run` (run_pipeline) refuses to publish and says which check failed."""
    from dagster_project.runner import RunFailed, run_pipeline

    defs, raw, db = setup
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    reference = raw.parent / "reference"
    run_pipeline(raw, reference, db)
    before = db.read_bytes()
    assert published_invoices(db)[("c_usd", date(2026, 10, 1))] == EXPECTED_OCTOBER[("c_usd", date(2026, 10, 1))]

    _add_new_usage(raw)
    force_contract_failure(monkeypatch, contracts.INVOICES)
    with pytest.raises(RunFailed, match=r"marts/invoices.*pandera_contract"):
        run_pipeline(raw, reference, db)
    assert db.read_bytes() == before


def _check(name: str, asset: str):
    from dagster_project.checks import BY_KEY

    return BY_KEY[f"{asset}:{name}"].run


def test_invariant_checks_catch_a_lost_record_and_a_wrong_total(tmp_path):
    from harness import run

    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 2}, account="org_usd"),
        envelope({"eventSlug": "claim-check", "quantity": 3}, account="org_usd", received_at="2026-10-04T00:00:00Z"),
    ])
    result = run(tmp_path)
    warehouse = TallyWarehouse(raw_dir=str(tmp_path / "raw"), reference_dir=str(tmp_path / "reference"),
                               db=str(tmp_path / "warehouse.duckdb"))
    one_outcome = _check("every_record_one_outcome", "intermediate/priced_usage")
    sum_of_lines = _check("total_is_sum_of_lines", "marts/invoices")
    result.con.close()

    assert one_outcome(warehouse=warehouse).passed
    assert sum_of_lines(warehouse=warehouse).passed

    con = duckdb.connect(str(tmp_path / "warehouse.state.duckdb"))
    con.execute("DELETE FROM int_priced_usage WHERE line_number = 2")
    con.execute("UPDATE invoices SET total = total + 0.01")
    con.close()
    assert not one_outcome(warehouse=warehouse).passed
    assert not sum_of_lines(warehouse=warehouse).passed
