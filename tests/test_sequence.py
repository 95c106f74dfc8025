"""sequence (SPEC §2 "sequence", seed sequence-create-usage-event.txt): schema, versions, VOID, meters.

Every expected number below is worked out by hand from SPEC and the default reference set in
``harness.REFERENCE`` (sequence keys: alias-usd -> c_usd (USD, UTC), alias-eur -> c_eur (EUR,
Europe/Berlin), alias-jpy -> c_jpy; meters: message-sent -> characters sum(length), api-call ->
api_calls count, login -> active_users unique_count(user), disk -> disk_peak max(gigabytes)).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from harness import REFERENCE, envelope, run, write_dump, write_reference

F = "sequence/a.jsonl"


def usage(alias="alias-usd", event_type="api-call", **fields) -> dict:
    return {"customerAlias": alias, "eventType": event_type, **fields}


def msg(length, alias="alias-usd", **fields) -> dict:
    return usage(alias, "message-sent", eventProperties={"length": length}, **fields)


def at(day: int, hour: int = 12, month: int = 10) -> str:
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00Z"


# --------------------------------------------------------------------------------------------------
# Schema (step 3) and eventTimestamp (step 4), all in one dump: one line per case.

SCHEMA_CASES = {
    # name: (body, expected outcome, expected reason)
    "valid_minimal": (usage(), "billed", None),
    "alias_missing": ({"eventType": "api-call"}, "quarantined", "schema_violation"),
    "alias_null": (usage(alias=None), "quarantined", "schema_violation"),
    "alias_number": (usage(alias=7), "quarantined", "schema_violation"),
    "alias_object": (usage(alias={"id": "alias-usd"}), "quarantined", "schema_violation"),
    "type_missing": ({"customerAlias": "alias-usd"}, "quarantined", "schema_violation"),
    "type_null": (usage(event_type=None), "quarantined", "schema_violation"),
    "type_array": (usage(event_type=["api-call"]), "quarantined", "schema_violation"),
    "event_id_number": (usage(customerEventId=17), "quarantined", "schema_violation"),
    "event_id_null": (usage(customerEventId=None), "quarantined", "schema_violation"),
    "timestamp_number": (usage(eventTimestamp=1790000000), "quarantined", "schema_violation"),
    "timestamp_null": (usage(eventTimestamp=None), "quarantined", "schema_violation"),
    "properties_string": (usage(eventProperties="{}"), "quarantined", "schema_violation"),
    "properties_array": (usage(eventProperties=[]), "quarantined", "schema_violation"),
    "properties_null": (usage(eventProperties=None), "quarantined", "schema_violation"),
    # the response model's fields and unknown fields are fine
    "response_fields": (
        usage(id="0184421a-8202-70ea-a729-30308a40bbf7", sequenceAccountId="0184421e-a9cc-711b-af93-bf0511d4d833",
              customerEventId="with-extras"),
        "billed", None),
    "unknown_field": (usage(somethingElse={"x": [1, 2]}, customerEventId="unknown-field"), "billed", None),
    "properties_empty_object": (usage(eventProperties={}, customerEventId="empty-props"), "billed", None),
    # no minLength in the seed: an empty alias is schema-valid, just not a known customer
    "alias_empty_string": (usage(alias=""), "quarantined", "unknown_customer"),
    "alias_unknown": (usage(alias="alias-nobody"), "quarantined", "unknown_customer"),
    "type_unmetered": (usage(event_type="no-such-meter"), "unmetered", None),
    # step 4: eventTimestamp is a string but not an RFC 3339 instant
    "ts_date_only": (usage(eventTimestamp="2026-10-05"), "quarantined", "invalid_value"),
    "ts_no_seconds": (usage(eventTimestamp="2026-10-05T12:00Z"), "quarantined", "invalid_value"),
    "ts_no_offset": (usage(eventTimestamp="2026-10-05T12:00:00"), "quarantined", "invalid_value"),
    "ts_space": (usage(eventTimestamp="2026-10-05 12:00:00Z"), "quarantined", "invalid_value"),
    "ts_words": (usage(eventTimestamp="yesterday"), "quarantined", "invalid_value"),
    "ts_empty": (usage(eventTimestamp=""), "quarantined", "invalid_value"),
    "ts_bad_month": (usage(eventTimestamp="2026-13-05T12:00:00Z"), "quarantined", "invalid_value"),
    "ts_short_offset": (usage(eventTimestamp="2026-10-05T12:00:00+02"), "quarantined", "invalid_value"),
    # instants that are fine: lower-case t/z, many fractional digits, an offset
    "ts_lower_case": (usage(eventTimestamp="2026-10-05t12:00:00z"), "billed", None),
    "ts_long_fraction": (usage(eventTimestamp="2026-10-05T12:00:00.123456789Z"), "billed", None),
    "ts_offset": (usage(eventTimestamp="2026-10-05T14:00:00+02:00"), "billed", None),
}
SCHEMA_LINES = {name: n for n, name in enumerate(SCHEMA_CASES, start=1)}


@pytest.fixture(scope="module")
def schema_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sequence_schema")
    # each line has its own receivedAt, so no two lines are re-deliveries of each other
    lines = [envelope(body, received_at=f"2026-10-03T12:00:{n:02d}Z")
             for n, (body, _, _) in enumerate(SCHEMA_CASES.values(), start=1)]
    write_dump(tmp / "raw", F, lines)
    return run(tmp)


@pytest.mark.parametrize("case", list(SCHEMA_CASES))
def test_schema_and_timestamp(schema_run, case):
    _, outcome, reason = SCHEMA_CASES[case]
    assert schema_run.outcome(F, SCHEMA_LINES[case]) == (outcome, reason)


def test_schema_run_bills_exactly_the_valid_lines(schema_run):
    billed = [name for name, (_, outcome, _) in SCHEMA_CASES.items() if outcome == "billed"]
    assert len(billed) == 7
    # api_calls: 7 billed events x USD 0.02 = 0.14, one line, one invoice
    assert schema_run.invoices() == {"INV-202610-c_usd": (Decimal("0.14"), 1, 7)}
    assert schema_run.invoice_lines() == [
        ("INV-202610-c_usd", "api_calls", Decimal("0.02"), Decimal(7), Decimal("0.14"), 7)]
    recon = schema_run.table("reconciliation").filter(source="sequence").row(0, named=True)
    assert recon["records"] == len(SCHEMA_CASES)
    assert recon["billed"] == 7 and recon["unmetered"] == 1
    assert recon["quarantined"] == len(SCHEMA_CASES) - 8


def test_quarantine_rows_carry_the_reason(schema_run):
    rows = dict(schema_run.con.sql(
        "SELECT line_number, reason FROM quarantine WHERE source = 'sequence'").fetchall())
    expected = {SCHEMA_LINES[name]: reason for name, (_, outcome, reason) in SCHEMA_CASES.items()
                if outcome == "quarantined"}
    assert rows == expected


# --------------------------------------------------------------------------------------------------
# Occurred: eventTimestamp, else receivedAt.

def test_occurred_is_event_timestamp_else_received_at(tmp_path):
    write_dump(tmp_path / "raw", F, [
        # received in October, happened in September (UTC customer)
        envelope(usage(eventTimestamp="2026-09-30T23:00:00Z"), received_at="2026-10-03T12:00:00Z"),
        # +02:00 offset: 2026-10-01T01:00+02:00 is 2026-09-30T23:00Z, still September
        envelope(usage(eventTimestamp="2026-10-01T01:00:00+02:00"), received_at="2026-10-03T12:00:01Z"),
        # no eventTimestamp: receivedAt decides
        envelope(usage(), received_at="2026-10-03T12:00:02Z"),
        # happened in October, received in November
        envelope(usage(eventTimestamp="2026-10-31T23:59:59.999Z"), received_at="2026-11-01T00:00:05Z"),
    ])
    r = run(tmp_path)
    occurred = dict(r.con.sql(
        "SELECT line_number, occurred_at FROM usage_events ORDER BY 1").fetchall())
    utc = timezone.utc
    assert {n: t.astimezone(utc) for n, t in occurred.items()} == {
        1: datetime(2026, 9, 30, 23, 0, tzinfo=utc),
        2: datetime(2026, 9, 30, 23, 0, tzinfo=utc),
        3: datetime(2026, 10, 3, 12, 0, 2, tzinfo=utc),
        4: datetime(2026, 10, 31, 23, 59, 59, 999000, tzinfo=utc),
    }
    assert r.invoices() == {
        "INV-202609-c_usd": (Decimal("0.04"), 1, 2),
        "INV-202610-c_usd": (Decimal("0.04"), 1, 2),
    }


# --------------------------------------------------------------------------------------------------
# Versions: (account, customerEventId), the last in order wins.

def test_last_received_wins_regardless_of_event_timestamp(tmp_path):
    write_dump(tmp_path / "raw", F, [
        # written out of order: the line order is not the arrival order
        envelope(msg(300, customerEventId="e1", eventTimestamp="2026-10-01T00:00:00Z"),
                 received_at=at(5), account="acct"),
        envelope(msg(100, customerEventId="e1", eventTimestamp="2026-10-20T00:00:00Z"),
                 received_at=at(3), account="acct"),
        envelope(msg(200, customerEventId="e1", eventTimestamp="2026-10-25T00:00:00Z"),
                 received_at=at(4), account="acct"),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("billed", None),
        (F, 2, 0): ("superseded", None),
        (F, 3, 0): ("superseded", None),
    }
    # only the winner's 300 characters count: 300 x 0.001 = 0.30
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "characters", Decimal("0.001"), Decimal(300), Decimal("0.30"), 1)]
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("0.30"), 1, 1)}


def test_received_at_compares_as_an_instant(tmp_path):
    write_dump(tmp_path / "raw", F, [
        # 12:00+02:00 is 10:00Z: earlier than 11:00Z although it sorts later as text
        envelope(msg(111, customerEventId="e1"), received_at="2026-10-03T11:00:00Z"),
        envelope(msg(222, customerEventId="e1"), received_at="2026-10-03T12:00:00+02:00"),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {(F, 1, 0): ("billed", None), (F, 2, 0): ("superseded", None)}
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("0.11"), 1, 1)}  # 111 x 0.001 = 0.111


def test_same_received_at_then_file_path_then_line(tmp_path):
    same = "2026-10-03T12:00:00Z"
    raw = tmp_path / "raw"
    # paths compare as plain strings: "sequence/2026-10/z.jsonl" < "sequence/a.jsonl" < "sequence/b.jsonl"
    write_dump(raw, "sequence/b.jsonl", [
        envelope(msg(1, customerEventId="by-path"), received_at=same),
        envelope(msg(10, customerEventId="by-line"), received_at=same),
        envelope(msg(20, customerEventId="by-line"), received_at=same),
    ])
    write_dump(raw, "sequence/a.jsonl", [envelope(msg(2, customerEventId="by-path"), received_at=same)])
    write_dump(raw, "sequence/2026-10/z.jsonl", [envelope(msg(3, customerEventId="by-path"), received_at=same)])
    r = run(tmp_path)
    assert r.outcomes() == {
        ("sequence/b.jsonl", 1, 0): ("billed", None),
        ("sequence/a.jsonl", 1, 0): ("superseded", None),
        ("sequence/2026-10/z.jsonl", 1, 0): ("superseded", None),
        ("sequence/b.jsonl", 2, 0): ("superseded", None),
        ("sequence/b.jsonl", 3, 0): ("billed", None),
    }
    # 1 + 20 characters
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "characters", Decimal("0.001"), Decimal(21), Decimal("0.02"), 2)]


def test_last_version_may_change_the_customer(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(msg(1000, customerEventId="e1"), received_at=at(3)),
        envelope(msg(2000, alias="alias-eur", customerEventId="e1"), received_at=at(4)),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {(F, 1, 0): ("superseded", None), (F, 2, 0): ("billed", None)}
    assert r.invoices() == {"INV-202610-c_eur": (Decimal("2.00"), 1, 1)}


def test_a_version_the_meter_never_reads_may_carry_any_number(tmp_path):
    """Step 10 (meter) judges only the records still standing: a negative length in a superseded or a voided
    version is never read, so it quarantines nothing and fails no contract."""
    write_dump(tmp_path / "raw", F, [
        envelope(msg(-1, customerEventId="e1"), received_at=at(3)),
        envelope(msg(7, customerEventId="e1"), received_at=at(4)),
        envelope(msg(-5, alias="VOID", customerEventId="e2"), received_at=at(5)),
        envelope(msg(-2, customerEventId="e3"), received_at=at(6)),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("superseded", None),
        (F, 2, 0): ("billed", None),
        (F, 3, 0): ("voided", None),
        (F, 4, 0): ("quarantined", "invalid_value"),
    }
    # 7 characters x 0.001 = 0.007 -> 0.01
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "characters", Decimal("0.001"), Decimal(7), Decimal("0.01"), 1)]


def test_missing_account_is_its_own_scope(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(msg(1, customerEventId="e1"), received_at=at(3), account="A"),
        envelope(msg(20, customerEventId="e1"), received_at=at(4)),
        envelope(msg(300, customerEventId="e1"), received_at=at(5), account="B"),
        # versions within each scope
        envelope(msg(4000, customerEventId="e1"), received_at=at(6)),
        envelope(msg(50000, customerEventId="e1"), received_at=at(7), account="A"),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("superseded", None),
        (F, 2, 0): ("superseded", None),
        (F, 3, 0): ("billed", None),
        (F, 4, 0): ("billed", None),
        (F, 5, 0): ("billed", None),
    }
    # 300 + 4000 + 50000 = 54300 characters x 0.001 = 54.30
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "characters", Decimal("0.001"), Decimal(54300), Decimal("54.30"), 3)]


def test_account_scopes_compare_as_json_values(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(msg(1, customerEventId="e1"), received_at=at(3), account="7"),
        envelope(msg(20, customerEventId="e1"), received_at=at(4), account=7),        # a number: another scope
        envelope(msg(300, customerEventId="e1"), received_at=at(5), account="7"),
        json.dumps(envelope(msg(4000, customerEventId="e1"), received_at=at(6), account="café")),  # caf\u00e9
        json.dumps(envelope(msg(50000, customerEventId="e1"), received_at=at(7), account="café"), ensure_ascii=False),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("superseded", None),
        (F, 2, 0): ("billed", None),
        (F, 3, 0): ("billed", None),
        (F, 4, 0): ("superseded", None),
        (F, 5, 0): ("billed", None),
    }
    # 20 + 300 + 50000 = 50320 characters x 0.001 = 50.32
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "characters", Decimal("0.001"), Decimal(50320), Decimal("50.32"), 3)]


def test_without_customer_event_id_each_request_is_its_own_event(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(msg(100), received_at=at(3), account="A"),
        envelope(msg(100), received_at=at(4), account="A"),
        envelope(msg(100), received_at=at(5)),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {(F, n, 0): ("billed", None) for n in (1, 2, 3)}
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("0.30"), 1, 3)}


def test_a_quarantined_later_version_supersedes_nothing(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(msg(100, customerEventId="e1"), received_at=at(3)),
        # step 3 and step 4 failures are out before step 7
        envelope(usage("alias-usd", 5, customerEventId="e1"), received_at=at(4)),
        envelope(msg(200, customerEventId="e1", eventTimestamp="not a time"), received_at=at(5)),
        # an identical re-delivery of line 1 is a duplicate (step 6), not a later version
        envelope(msg(100, customerEventId="e1"), received_at=at(3)),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("billed", None),
        (F, 2, 0): ("quarantined", "schema_violation"),
        (F, 3, 0): ("quarantined", "invalid_value"),
        (F, 4, 0): ("duplicate", None),
    }
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("0.10"), 1, 1)}


def test_a_winner_failing_the_meter_still_supersedes(tmp_path):
    # step 7 comes before step 10: the last version wins, then cannot be metered
    write_dump(tmp_path / "raw", F, [
        envelope(msg(100, customerEventId="e1"), received_at=at(3)),
        envelope(usage("alias-usd", "message-sent", customerEventId="e1", eventProperties={"len": 5}),
                 received_at=at(4)),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {(F, 1, 0): ("superseded", None), (F, 2, 0): ("quarantined", "invalid_value")}
    assert r.invoices() == {}


# --------------------------------------------------------------------------------------------------
# VOID

def test_void_winner_voids_and_supersedes_earlier_versions(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(msg(100, customerEventId="e1"), received_at=at(3)),
        envelope(msg(200, customerEventId="e1"), received_at=at(4)),
        envelope(usage("VOID", "message-sent", customerEventId="e1"), received_at=at(5)),
        envelope(msg(7, customerEventId="e2"), received_at=at(6)),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("superseded", None),
        (F, 2, 0): ("superseded", None),
        (F, 3, 0): ("voided", None),
        (F, 4, 0): ("billed", None),
    }
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "characters", Decimal("0.001"), Decimal(7), Decimal("0.01"), 1)]  # 0.007 -> 0.01


def test_void_is_case_sensitive(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(msg(100, customerEventId="e1"), received_at=at(3)),
        envelope(usage("void", "message-sent", customerEventId="e1"), received_at=at(4)),
        envelope(msg(100, customerEventId="e2"), received_at=at(3)),
        envelope(usage("Void", "message-sent", customerEventId="e2"), received_at=at(4)),
    ])
    r = run(tmp_path)
    # lower-case "void" is just an unknown customer alias, which still won the version
    assert r.outcomes() == {
        (F, 1, 0): ("superseded", None),
        (F, 2, 0): ("quarantined", "unknown_customer"),
        (F, 3, 0): ("superseded", None),
        (F, 4, 0): ("quarantined", "unknown_customer"),
    }
    assert r.invoices() == {}


def test_void_needs_to_be_the_winner(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(usage("VOID", "message-sent", customerEventId="e1"), received_at=at(3)),
        envelope(msg(100, customerEventId="e1"), received_at=at(4)),
        # a VOID without customerEventId is its own event, and a voided one
        envelope(usage("VOID", "no-such-meter"), received_at=at(5)),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("superseded", None),
        (F, 2, 0): ("billed", None),
        (F, 3, 0): ("voided", None),
    }
    recon = r.table("reconciliation").filter(source="sequence").row(0, named=True)
    assert (recon["records"], recon["billed"], recon["superseded"], recon["voided"]) == (3, 1, 1, 1)


def test_void_only_voids_its_own_scope(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(msg(100, customerEventId="e1"), received_at=at(3), account="A"),
        envelope(usage("VOID", "message-sent", customerEventId="e1"), received_at=at(4), account="B"),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {(F, 1, 0): ("billed", None), (F, 2, 0): ("voided", None)}
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("0.10"), 1, 1)}


# --------------------------------------------------------------------------------------------------
# Meters: sum

EXPONENT = "__exponent__"
SUM_CASES = {
    "number": (500, "billed", None),
    "decimal_string": ("12.5", "billed", None),
    "fraction_number": (0.5, "billed", None),
    "exponent_number": (EXPONENT, "billed", None),  # written as the JSON number 1.5e2 = 150
    "zero": (0, "billed", None),
    "negative_number": (-5, "quarantined", "invalid_value"),
    "negative_string": ("-5", "quarantined", "invalid_value"),
    "exponent_string": ("1e3", "quarantined", "invalid_value"),
    "word": ("abc", "quarantined", "invalid_value"),
    "padded_string": (" 12", "quarantined", "invalid_value"),
    "plus_string": ("+12", "quarantined", "invalid_value"),
    "trailing_dot": ("12.", "quarantined", "invalid_value"),
    "empty_string": ("", "quarantined", "invalid_value"),
    "boolean": (True, "quarantined", "invalid_value"),
    "null": (None, "quarantined", "invalid_value"),
    "object": ({"value": 5}, "quarantined", "invalid_value"),
    "array": ([5], "quarantined", "invalid_value"),
}


@pytest.fixture(scope="module")
def sum_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sequence_sum")
    lines = [json.dumps(envelope(msg(value), received_at=f"2026-10-03T12:00:{n:02d}Z"))
             .replace(f'"{EXPONENT}"', "1.5e2")
             for n, (value, _, _) in enumerate(SUM_CASES.values(), start=1)]
    assert sum("1.5e2" in line for line in lines) == 1
    lines.append(envelope(usage("alias-usd", "message-sent", eventProperties={"other": 5}),
                          received_at="2026-10-03T12:01:00Z"))
    lines.append(envelope(usage("alias-usd", "message-sent"), received_at="2026-10-03T12:01:01Z"))
    write_dump(tmp / "raw", F, lines)
    return run(tmp)


@pytest.mark.parametrize("case", list(SUM_CASES))
def test_sum_property_values(sum_run, case):
    line = list(SUM_CASES).index(case) + 1
    _, outcome, reason = SUM_CASES[case]
    assert sum_run.outcome(F, line) == (outcome, reason)


def test_sum_property_missing_is_invalid_value(sum_run):
    n = len(SUM_CASES)
    assert sum_run.outcome(F, n + 1) == ("quarantined", "invalid_value")  # eventProperties without length
    assert sum_run.outcome(F, n + 2) == ("quarantined", "invalid_value")  # no eventProperties at all


def test_sum_adds_the_property_values(sum_run):
    # 500 + 12.5 + 0.5 + 150 + 0 = 663 characters x USD 0.001 = 0.663 -> 0.66
    assert sum_run.invoice_lines() == [
        ("INV-202610-c_usd", "characters", Decimal("0.001"), Decimal("663"), Decimal("0.66"), 5)]
    assert sum_run.invoices() == {"INV-202610-c_usd": (Decimal("0.66"), 1, 5)}
    quantities = dict(sum_run.con.sql(
        "SELECT line_number, quantity FROM usage_events WHERE outcome = 'billed'").fetchall())
    assert quantities == {1: Decimal(500), 2: Decimal("12.5"), 3: Decimal("0.5"), 4: Decimal(150), 5: Decimal(0)}


# --------------------------------------------------------------------------------------------------
# Meters: count, max, unique_count

def test_count_is_one_per_event_whatever_the_properties(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(usage(eventProperties={"count": 50}), received_at=at(3)),
        envelope(usage(eventProperties={"length": -1}), received_at=at(4)),
        envelope(usage(), received_at=at(5)),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {(F, n, 0): ("billed", None) for n in (1, 2, 3)}
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "api_calls", Decimal("0.02"), Decimal(3), Decimal("0.06"), 3)]


def disk(gigabytes, alias="alias-usd", **fields) -> dict:
    return usage(alias, "disk", eventProperties={"gigabytes": gigabytes}, **fields)


def test_max_takes_the_largest_value_in_the_period(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(disk(10), received_at=at(3)),
        envelope(disk("12.5"), received_at=at(4)),
        envelope(disk(7), received_at=at(5)),
        envelope(disk(100), received_at=at(30, month=9)),  # September: its own period
        envelope(disk(-1), received_at=at(6)),
        envelope(disk("big"), received_at=at(7)),
        envelope(usage("alias-usd", "disk", eventProperties={"gb": 5}), received_at=at(8)),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("billed", None), (F, 2, 0): ("billed", None), (F, 3, 0): ("billed", None),
        (F, 4, 0): ("billed", None),
        (F, 5, 0): ("quarantined", "invalid_value"),
        (F, 6, 0): ("quarantined", "invalid_value"),
        (F, 7, 0): ("quarantined", "invalid_value"),
    }
    # October: max 12.5 x 1.5 = 18.75 (3 events); September: 100 x 1.5 = 150.00
    assert r.invoice_lines() == [
        ("INV-202609-c_usd", "disk_peak", Decimal("1.5"), Decimal(100), Decimal("150.00"), 1),
        ("INV-202610-c_usd", "disk_peak", Decimal("1.5"), Decimal("12.5"), Decimal("18.75"), 3),
    ]


def test_max_price_is_the_one_on_the_periods_first_day(tmp_path):
    prices = REFERENCE["prices.csv"].replace(
        "disk_peak,,USD,1.5,,\n", "disk_peak,,USD,1.5,,2026-10-10\ndisk_peak,,USD,2,2026-10-10,\n")
    assert prices != REFERENCE["prices.csv"]
    reference = write_reference(tmp_path / "ref", overrides={"prices.csv": prices})
    write_dump(tmp_path / "raw", F, [
        envelope(disk(4), received_at=at(3)),
        envelope(disk(8), received_at=at(20)),  # after the price change, still 1.5 for October
        envelope(disk(5), received_at=at(5, month=11)),  # November 1st: 2
    ])
    r = run(tmp_path, reference_dir=reference)
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "disk_peak", Decimal("1.5"), Decimal(8), Decimal("12.00"), 2),
        ("INV-202611-c_usd", "disk_peak", Decimal(2), Decimal(5), Decimal("10.00"), 1),
    ]
    prices_used = set(r.con.sql(
        "SELECT line_number, unit_price, price_source FROM usage_events").fetchall())
    assert prices_used == {(1, Decimal("1.5"), "price_book"), (2, Decimal("1.5"), "price_book"),
                           (3, Decimal(2), "price_book")}


def login(user, alias="alias-usd", **fields) -> dict:
    return usage(alias, "login", eventProperties={"user": user}, **fields)


def test_unique_count_counts_distinct_json_values_per_period(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(login("u1"), received_at=at(2)),
        envelope(login("u1"), received_at=at(3)),
        envelope(login("u2"), received_at=at(4)),
        envelope(login(1), received_at=at(5)),
        envelope(login("1"), received_at=at(6)),   # a string: not the number 1
        envelope(login(1.0), received_at=at(7)),   # the number 1 again
        envelope(login("u1"), received_at=at(20)),  # after active_users goes to 4.50 on 10-10
        envelope(login("u1"), received_at=at(30, month=9)),  # September: its own period
    ])
    r = run(tmp_path)
    assert r.outcomes() == {(F, n, 0): ("billed", None) for n in range(1, 9)}
    # October: {"u1", "u2", 1, "1"} = 4 users at the 2026-10-01 price 4.00 = 16.00 (7 records)
    # September: 1 user x 4.00
    assert r.invoice_lines() == [
        ("INV-202609-c_usd", "active_users", Decimal("4.00"), Decimal(1), Decimal("4.00"), 1),
        ("INV-202610-c_usd", "active_users", Decimal("4.00"), Decimal(4), Decimal("16.00"), 7),
    ]
    assert r.invoices() == {
        "INV-202609-c_usd": (Decimal("4.00"), 1, 1),
        "INV-202610-c_usd": (Decimal("16.00"), 1, 7),
    }


def test_unique_count_price_after_the_change_and_bad_values(tmp_path):
    write_dump(tmp_path / "raw", F, [
        envelope(login("u1"), received_at=at(2, month=11)),
        envelope(login("u2"), received_at=at(3, month=11)),
        envelope(login("u2"), received_at=at(4, month=11)),
        envelope(usage("alias-usd", "login", eventProperties={"userId": "u3"}), received_at=at(5, month=11)),
        envelope(login(True), received_at=at(6, month=11)),
        envelope(login({"id": "u4"}), received_at=at(7, month=11)),
        envelope(login(None), received_at=at(8, month=11)),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("billed", None), (F, 2, 0): ("billed", None), (F, 3, 0): ("billed", None),
        (F, 4, 0): ("quarantined", "invalid_value"),
        (F, 5, 0): ("quarantined", "invalid_value"),
        (F, 6, 0): ("quarantined", "invalid_value"),
        (F, 7, 0): ("quarantined", "invalid_value"),
    }
    # November 1st: 4.50; 2 users = 9.00
    assert r.invoice_lines() == [
        ("INV-202611-c_usd", "active_users", Decimal("4.50"), Decimal(2), Decimal("9.00"), 3)]


def test_unique_count_without_a_price_on_the_first_day_is_no_price(tmp_path):
    # EUR active_users only from 2026-10-15: an October period has no price on its first day
    prices = REFERENCE["prices.csv"].replace("active_users,,EUR,4.00,,\n", "active_users,,EUR,4.00,2026-10-15,\n")
    assert prices != REFERENCE["prices.csv"]
    reference = write_reference(tmp_path / "ref", overrides={"prices.csv": prices})
    write_dump(tmp_path / "raw", F, [
        envelope(login("u1", alias="alias-eur"), received_at=at(20)),
        envelope(login("u1", alias="alias-eur"), received_at=at(20, month=11)),
    ])
    r = run(tmp_path, reference_dir=reference)
    assert r.outcomes() == {(F, 1, 0): ("quarantined", "no_price"), (F, 2, 0): ("billed", None)}
    assert r.invoices() == {"INV-202611-c_eur": (Decimal("4.00"), 1, 1)}


def test_unique_count_period_is_the_customers_local_month(tmp_path):
    # alias-eur is Europe/Berlin: 2026-09-30T22:30Z is 2026-10-01 00:30 local, so October
    write_dump(tmp_path / "raw", F, [
        envelope(login("u1", alias="alias-eur", eventTimestamp="2026-09-30T22:30:00Z"), received_at=at(3)),
        envelope(login("u1", alias="alias-eur"), received_at=at(4)),
        envelope(login("u2", alias="alias-eur", eventTimestamp="2026-09-30T21:30:00Z"), received_at=at(5)),
    ])
    r = run(tmp_path)
    assert r.invoice_lines() == [
        ("INV-202609-c_eur", "active_users", Decimal("4.00"), Decimal(1), Decimal("4.00"), 1),
        ("INV-202610-c_eur", "active_users", Decimal("4.00"), Decimal(1), Decimal("4.00"), 2),
    ]
    periods = dict(r.con.sql("SELECT line_number, period_start FROM usage_events").fetchall())
    assert periods == {1: date(2026, 10, 1), 2: date(2026, 10, 1), 3: date(2026, 9, 1)}
