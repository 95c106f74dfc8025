"""paygentic (SPEC §2 "paygentic", seed paygentic-batch-usage-events.txt): batches, per-event schema
and values, vendor rejection, idempotency keys, multi-property events and event prices.

Expected numbers are worked out by hand from SPEC and ``harness.REFERENCE``: paygentic keys
cust-usd -> c_usd (USD), cust-bhd -> c_bhd (BHD, 3 minor digits), cust-eur -> c_eur (EUR); metrics
tokens (USD 0.002, BHD 0.0005, EUR 0.002), requests (USD 1, BHD 0.1), unpriced (metered, no price).
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from harness import envelope, run, write_dump

F = "paygentic/a.jsonl"


def prop(metric="tokens", quantity=100, **fields) -> dict:
    return {"billableMetricId": metric, "quantity": quantity, **fields}


def event(key, *properties, customer="cust-usd", merchant="m1", timestamp="2026-10-05T12:00:00Z", **fields) -> dict:
    return {"idempotencyKey": key, "customerId": customer, "merchantId": merchant, "timestamp": timestamp,
            "properties": list(properties) or [prop()], **fields}


def batch(*events, received_at="2026-10-03T12:00:00Z", **fields) -> dict:
    return envelope({"events": list(events)}, received_at=received_at, **fields)


# --------------------------------------------------------------------------------------------------
# Splitting

def test_a_batch_splits_into_one_record_per_event(tmp_path):
    write_dump(tmp_path / "raw", F, [
        batch(event("k1", prop("tokens", 100)), event("k2", prop("tokens", 200)), event("k3", prop("requests", 2))),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {(F, 1, i): ("billed", None) for i in range(3)}
    rows = r.con.sql("SELECT line_number, record_index, metric_id, quantity FROM usage_events ORDER BY 2").fetchall()
    assert rows == [(1, 0, "tokens", Decimal(100)), (1, 1, "tokens", Decimal(200)), (1, 2, "requests", Decimal(2))]
    # tokens 300 x 0.002 = 0.60; requests 2 x 1 = 2.00
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "requests", Decimal(1), Decimal(2), Decimal("2.00"), 1),
        ("INV-202610-c_usd", "tokens", Decimal("0.002"), Decimal(300), Decimal("0.60"), 2),
    ]
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("2.60"), 2, 3)}
    recon = r.table("reconciliation").filter(source="paygentic").row(0, named=True)
    assert (recon["records"], recon["billed"]) == (3, 3)


@pytest.mark.parametrize("body", [
    {},
    {"events": []},
    {"events": "k1"},
    {"events": {"0": event("k1")}},
    {"events": None},
    {"event": [event("k1")]},
], ids=["missing", "empty", "string", "object", "null", "misspelled"])
def test_a_body_without_a_non_empty_events_array_is_one_schema_violation(tmp_path, body):
    write_dump(tmp_path / "raw", F, [envelope(body), batch(event("k9"), received_at="2026-10-03T13:00:00Z")])
    r = run(tmp_path)
    assert r.outcomes() == {(F, 1, 0): ("quarantined", "schema_violation"), (F, 2, 0): ("billed", None)}
    q = r.con.sql("SELECT source_file, line_number, record_index, reason FROM quarantine").fetchall()
    assert q == [(F, 1, 0, "schema_violation")]


def test_more_than_1000_events_makes_every_event_a_schema_violation(tmp_path):
    write_dump(tmp_path / "raw", F, [
        batch(*[event(f"a{i}", prop("tokens", 1)) for i in range(1001)]),
        batch(*[event(f"b{i}", prop("tokens", 1)) for i in range(1000)], received_at="2026-10-03T13:00:00Z"),
    ])
    r = run(tmp_path)
    outcomes = r.outcomes()
    assert len(outcomes) == 2001
    assert {outcomes[(F, 1, i)] for i in range(1001)} == {("quarantined", "schema_violation")}
    assert {outcomes[(F, 2, i)] for i in range(1000)} == {("billed", None)}
    # the 1000-event batch: 1000 tokens x 0.002 = 2.00
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("2.00"), 1, 1000)}
    recon = r.table("reconciliation").filter(source="paygentic").row(0, named=True)
    assert (recon["records"], recon["billed"], recon["quarantined"]) == (2001, 1000, 1001)


# --------------------------------------------------------------------------------------------------
# Per-event schema (step 3) and values (step 4); each bad event sits between two good siblings.

def without(d: dict, key: str) -> dict:
    d = copy.deepcopy(d)
    del d[key]
    return d


GOOD = event("bad")  # the event every case below mutates; its idempotency key is "bad"
SV, IV = ("quarantined", "schema_violation"), ("quarantined", "invalid_value")
EVENT_CASES = {
    "ok_plain": (GOOD, ("billed", None)),
    "ok_optional_fields": (event("bad", entitlementId="ent-1", metadata={"a": [1]}), ("billed", None)),
    "ok_quantity_zero": (event("bad", prop("tokens", 0)), ("billed", None)),
    "ok_quantity_fraction": (event("bad", prop("tokens", 0.25)), ("billed", None)),
    "ok_price_integer": (event("bad", prop("tokens", 1, price="3")), ("billed", None)),
    "ok_price_decimal": (event("bad", prop("tokens", 1, price="0.125")), ("billed", None)),
    "ok_price_zero": (event("bad", prop("tokens", 1, price="0")), ("billed", None)),
    "ok_timestamp_offset": (event("bad", timestamp="2026-10-05T12:00:00.5+05:30"), ("billed", None)),
    "not_an_object": ("bad", SV),
    "key_missing": (without(GOOD, "idempotencyKey"), SV),
    "key_number": (event(5), SV),
    "key_null": (event(None), SV),
    "customer_missing": (without(GOOD, "customerId"), SV),
    "customer_number": (event("bad", customer=7), SV),
    "merchant_missing": (without(GOOD, "merchantId"), SV),
    "merchant_null": (event("bad", merchant=None), SV),
    "timestamp_missing": (without(GOOD, "timestamp"), SV),
    "timestamp_number": (event("bad", timestamp=1790000000), SV),
    "timestamp_date_only": (event("bad", timestamp="2026-10-05"), SV),
    "timestamp_no_offset": (event("bad", timestamp="2026-10-05T12:00:00"), SV),
    "properties_missing": (without(GOOD, "properties"), SV),
    "properties_empty": ({**GOOD, "properties": []}, SV),
    "properties_object": ({**GOOD, "properties": prop()}, SV),
    "property_not_object": ({**GOOD, "properties": ["tokens"]}, SV),
    "metric_missing": (event("bad", {"quantity": 1}), SV),
    "metric_number": (event("bad", prop(5)), SV),
    "quantity_missing": (event("bad", {"billableMetricId": "tokens"}), SV),
    "quantity_string": (event("bad", prop("tokens", "1")), SV),
    "quantity_null": (event("bad", prop("tokens", None)), SV),
    "quantity_bool": (event("bad", prop("tokens", True)), SV),
    "price_number": (event("bad", prop("tokens", 1, price=1.5)), SV),
    "price_null": (event("bad", prop("tokens", 1, price=None)), SV),
    "entitlement_number": (event("bad", entitlementId=3), SV),
    "entitlement_null": (event("bad", entitlementId=None), SV),
    "metadata_string": (event("bad", metadata="x"), SV),
    "metadata_array": (event("bad", metadata=[]), SV),
    "quantity_negative": (event("bad", prop("tokens", -1)), IV),
    "quantity_negative_fraction": (event("bad", prop("tokens", -0.5)), IV),
    "price_exponent": (event("bad", prop("tokens", 1, price="1e3")), IV),
    "price_word": (event("bad", prop("tokens", 1, price="abc")), IV),
    "price_negative": (event("bad", prop("tokens", 1, price="-1")), IV),
    "price_empty": (event("bad", prop("tokens", 1, price="")), IV),
    "price_leading_dot": (event("bad", prop("tokens", 1, price=".5")), IV),
    "price_trailing_dot": (event("bad", prop("tokens", 1, price="5.")), IV),
    "price_padded": (event("bad", prop("tokens", 1, price=" 5")), IV),
    "price_comma": (event("bad", prop("tokens", 1, price="1,5")), IV),
    # a bad property quarantines the whole event, even next to a good one
    "second_property_negative": (event("bad", prop("tokens", 5), prop("requests", -2)), IV),
    "second_property_schema": (event("bad", prop("tokens", 5), prop("requests", "2")), SV),
    # schema problems (step 3) come before value problems (step 4), whatever the property order
    "schema_beats_value": (event("bad", prop("tokens", -1), prop("requests", "2")), SV),
}


@pytest.fixture(scope="module")
def event_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paygentic_events")
    lines = []
    for n, (bad, _) in enumerate(EVENT_CASES.values(), start=1):
        events = [event("before", prop("requests", 1)), copy.deepcopy(bad), event("after", prop("requests", 1))]
        for e in events:  # a merchant per line keeps the idempotency keys of different lines apart
            if isinstance(e, dict) and e.get("merchantId") == "m1":
                e["merchantId"] = f"m{n}"
        lines.append(batch(*events, received_at=f"2026-10-03T12:{n // 60:02d}:{n % 60:02d}Z"))
    write_dump(tmp / "raw", F, lines)
    return run(tmp)


@pytest.mark.parametrize("case", list(EVENT_CASES))
def test_event_schema_and_values(event_run, case):
    line = list(EVENT_CASES).index(case) + 1
    assert event_run.outcome(F, line, 1) == EVENT_CASES[case][1]
    # the siblings go on
    assert event_run.outcome(F, line, 0) == ("billed", None)
    assert event_run.outcome(F, line, 2) == ("billed", None)


def test_a_quarantined_event_leaves_no_usage_behind(event_run):
    n = len(EVENT_CASES)
    line = list(EVENT_CASES).index("second_property_negative") + 1
    # one usage row for the quarantined record, and it carries no billed line
    rows = event_run.con.sql(
        f"SELECT outcome, reason FROM usage_events WHERE line_number = {line} AND record_index = 1").fetchall()
    assert rows == [("quarantined", "invalid_value")]
    ok = [c for c, (_, outcome) in EVENT_CASES.items() if outcome == ("billed", None)]
    assert len(ok) == 8
    # requests: every sibling (2 per line) at USD 1; tokens from the 8 good cases: at the book's 0.002,
    # 100 + 100 + 0 + 0.25 + 100 = 300.25 (5 records) -> 0.6005 -> 0.60; 1 at event price 3 -> 3.00;
    # 1 at 0.125 -> 0.125 -> 0.12 (half to even); 1 at 0 -> 0.00
    assert event_run.invoice_lines() == [
        ("INV-202610-c_usd", "requests", Decimal(1), Decimal(2 * n), Decimal(2 * n), 2 * n),
        ("INV-202610-c_usd", "tokens", Decimal(0), Decimal(1), Decimal(0), 1),
        ("INV-202610-c_usd", "tokens", Decimal("0.002"), Decimal("300.25"), Decimal("0.60"), 5),
        ("INV-202610-c_usd", "tokens", Decimal("0.125"), Decimal(1), Decimal("0.12"), 1),
        ("INV-202610-c_usd", "tokens", Decimal(3), Decimal(1), Decimal("3.00"), 1),
    ]
    assert event_run.invoices() == {
        "INV-202610-c_usd": (Decimal(2 * n) + Decimal("0.60") + Decimal("0.12") + Decimal("3.00"), 5, 2 * n + 8)}


# --------------------------------------------------------------------------------------------------
# Vendor rejection (step 5)

@pytest.mark.parametrize("status", [400, 404, 409, 422, 500, 503])
def test_an_error_status_rejects_every_event(tmp_path, status):
    write_dump(tmp_path / "raw", F, [
        batch(event("k1"), event("k2"), response={"status": status, "body": {"error": "nope"}}),
        batch(event("k3"), received_at="2026-10-03T13:00:00Z", response={"status": 201, "body": {}}),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("rejected_by_vendor", None),
        (F, 1, 1): ("rejected_by_vendor", None),
        (F, 2, 0): ("billed", None),
    }
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("0.20"), 1, 1)}


def test_schema_violations_come_before_vendor_rejection(tmp_path):
    write_dump(tmp_path / "raw", F, [
        batch(event("k1"), event("k2", prop("tokens", "1")), response={"status": 400, "body": None}),
        envelope({"events": []}, received_at="2026-10-03T13:00:00Z", response={"status": 400, "body": None}),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("rejected_by_vendor", None),
        (F, 1, 1): ("quarantined", "schema_violation"),
        (F, 2, 0): ("quarantined", "schema_violation"),
    }


@pytest.mark.parametrize("status", [201, 207])
def test_failed_entries_reject_only_their_event(tmp_path, status):
    write_dump(tmp_path / "raw", F, [
        batch(event("k0", prop("tokens", 1000)), event("k1", prop("tokens", 2000)),
              event("k2", prop("tokens", 4000)), event("k3", prop("tokens", 8000)),
              response={"status": status, "body": {
                  "failed": [{"index": 1, "error": "bad", "idempotencyKey": "k1"}, {"index": 3}],
                  "summary": {"total": 4, "successful": 2, "failed": 2}}}),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("billed", None),
        (F, 1, 1): ("rejected_by_vendor", None),
        (F, 1, 2): ("billed", None),
        (F, 1, 3): ("rejected_by_vendor", None),
    }
    # 1000 + 4000 tokens x 0.002 = 10.00
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("10.00"), 1, 2)}


def test_a_failed_index_names_an_event_only_as_a_json_number_equal_to_an_integer(tmp_path):
    """0.6, "1", -1, 1.5, null and 3.000000000000000001 (a double reads it as 3.0) name no event (0.6 used
    to round to event 1); 2.0 is event 2."""
    line = json.dumps(batch(
        event("k0", prop("tokens", 1000)), event("k1", prop("tokens", 2000)),
        event("k2", prop("tokens", 4000)), event("k3", prop("tokens", 8000)),
        response={"status": 207, "body": {"failed": [
            {"index": 0.6}, {"index": "1"}, {"index": -1}, {"index": 1.5}, {"index": None}, {"index": 2.0},
            {"index": "LONG"}]}}))
    write_dump(tmp_path / "raw", F, [line.replace('"LONG"', "3.000000000000000001")])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("billed", None),
        (F, 1, 1): ("billed", None),
        (F, 1, 2): ("rejected_by_vendor", None),
        (F, 1, 3): ("billed", None),
    }
    # 1000 + 2000 + 8000 tokens x 0.002 = 22.00
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("22.00"), 1, 3)}


def test_a_successful_response_without_failures_rejects_nothing(tmp_path):
    write_dump(tmp_path / "raw", F, [
        batch(event("k0"), event("k1"), response={"status": 201, "body": {"failed": []}}),
        batch(event("k2"), received_at="2026-10-03T13:00:00Z",
              response={"status": 207, "body": {"failed": [{"index": 5}]}}),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {(F, 1, 0): ("billed", None), (F, 1, 1): ("billed", None), (F, 2, 0): ("billed", None)}


# --------------------------------------------------------------------------------------------------
# Duplicates (step 7): (merchantId, idempotencyKey), the first stands

def test_the_first_copy_of_a_key_stands(tmp_path):
    write_dump(tmp_path / "raw", F, [
        # line order is not arrival order: line 2 arrived first
        batch(event("k1", prop("tokens", 200)), received_at="2026-10-04T12:00:00Z"),
        batch(event("k1", prop("tokens", 100)), received_at="2026-10-03T12:00:00Z"),
        # same key, another merchant: another event
        batch(event("k1", prop("tokens", 400), merchant="m2"), received_at="2026-10-05T12:00:00Z"),
        # same key within one batch: index 0 is first; a different customer does not matter
        batch(event("k7", prop("requests", 1)), event("k7", prop("requests", 5), customer="cust-eur"),
              received_at="2026-10-06T12:00:00Z"),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("duplicate", None),
        (F, 2, 0): ("billed", None),
        (F, 3, 0): ("billed", None),
        (F, 4, 0): ("billed", None),
        (F, 4, 1): ("duplicate", None),
    }
    # tokens 100 + 400 = 500 x 0.002 = 1.00; requests 1 x 1 = 1.00
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("2.00"), 2, 3)}


def test_a_rejected_or_invalid_event_is_never_the_first_copy(tmp_path):
    write_dump(tmp_path / "raw", F, [
        batch(event("k1", prop("tokens", 100)), received_at="2026-10-03T12:00:00Z",
              response={"status": 400, "body": {"error": "rate limited"}}),
        batch(event("k1", prop("tokens", 100)), received_at="2026-10-03T12:05:00Z",
              response={"status": 201, "body": {"failed": []}}),
        batch(event("k2", prop("tokens", 1000)), received_at="2026-10-03T12:00:00Z",
              response={"status": 207, "body": {"failed": [{"index": 0}]}}),
        batch(event("k2", prop("tokens", 1000)), received_at="2026-10-03T12:05:00Z"),
        batch(event("k3", prop("tokens", "10")), received_at="2026-10-03T12:00:00Z"),
        batch(event("k3", prop("tokens", 10000)), received_at="2026-10-03T12:05:00Z"),
        batch(event("k3", prop("tokens", 10000)), received_at="2026-10-03T12:10:00Z"),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("rejected_by_vendor", None),
        (F, 2, 0): ("billed", None),
        (F, 3, 0): ("rejected_by_vendor", None),
        (F, 4, 0): ("billed", None),
        (F, 5, 0): ("quarantined", "schema_violation"),
        (F, 6, 0): ("billed", None),
        (F, 7, 0): ("duplicate", None),
    }
    # 100 + 1000 + 10000 tokens x 0.002 = 22.20
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("22.20"), 1, 3)}


def test_an_identical_line_is_a_redelivery(tmp_path):
    line = batch(event("k1", prop("tokens", 100)), event("k2", prop("tokens", 300)))
    spelled_differently = json.dumps(line, indent=None, separators=(",", ":"), sort_keys=True)
    write_dump(tmp_path / "raw", F, [line, spelled_differently])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("billed", None), (F, 1, 1): ("billed", None),
        (F, 2, 0): ("duplicate", None), (F, 2, 1): ("duplicate", None),
    }
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("0.80"), 1, 2)}


# --------------------------------------------------------------------------------------------------
# Multi-property events: one usage line per property, billed whole or not at all

def test_one_usage_line_per_property_and_the_event_counts_once(tmp_path):
    write_dump(tmp_path / "raw", F, [
        batch(event("k1", prop("tokens", 100), prop("requests", 3), prop("tokens", 50))),
    ])
    r = run(tmp_path)
    rows = r.con.sql("SELECT record_index, property_index, metric_id, quantity, unit_price, price_source, outcome "
                     "FROM usage_events ORDER BY property_index").fetchall()
    assert rows == [
        (0, 0, "tokens", Decimal(100), Decimal("0.002"), "price_book", "billed"),
        (0, 1, "requests", Decimal(3), Decimal(1), "price_book", "billed"),
        (0, 2, "tokens", Decimal(50), Decimal("0.002"), "price_book", "billed"),
    ]
    # tokens 150 x 0.002 = 0.30 and requests 3 x 1 = 3.00; one record behind each line and the invoice
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "requests", Decimal(1), Decimal(3), Decimal("3.00"), 1),
        ("INV-202610-c_usd", "tokens", Decimal("0.002"), Decimal(150), Decimal("0.30"), 1),
    ]
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("3.30"), 2, 1)}
    recon = r.table("reconciliation").filter(source="paygentic").row(0, named=True)
    assert (recon["records"], recon["billed"]) == (1, 1)


def test_one_unmetered_property_leaves_the_whole_event_unmetered(tmp_path):
    write_dump(tmp_path / "raw", F, [
        batch(event("k1", prop("tokens", 100), prop("no-such-metric", 3)),
              event("k2", prop("tokens", 100), prop("unpriced", 3), prop("no-such-metric", 1)),
              event("k3", prop("tokens", 500))),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("unmetered", None),
        (F, 1, 1): ("unmetered", None),  # unmetered (step 10) comes before no_price (step 11)
        (F, 1, 2): ("billed", None),
    }
    per_line = r.con.sql("SELECT DISTINCT outcome FROM usage_events WHERE record_index IN (0, 1)").fetchall()
    assert per_line == [("unmetered",)]
    assert r.invoice_lines() == [("INV-202610-c_usd", "tokens", Decimal("0.002"), Decimal(500), Decimal("1.00"), 1)]
    recon = r.table("reconciliation").filter(source="paygentic").row(0, named=True)
    assert (recon["records"], recon["billed"], recon["unmetered"]) == (3, 1, 2)


def test_one_unpriced_property_leaves_the_whole_event_no_price(tmp_path):
    write_dump(tmp_path / "raw", F, [
        batch(event("k1", prop("tokens", 100), prop("unpriced", 3)),
              # an event price prices what the book does not
              event("k2", prop("tokens", 100), prop("unpriced", 3, price="0.5")),
              # EUR customer: requests has no EUR price
              event("k3", prop("tokens", 100), prop("requests", 1), customer="cust-eur")),
    ])
    r = run(tmp_path)
    assert r.outcomes() == {
        (F, 1, 0): ("quarantined", "no_price"),
        (F, 1, 1): ("billed", None),
        (F, 1, 2): ("quarantined", "no_price"),
    }
    lines = r.con.sql("SELECT record_index, property_index, outcome, reason FROM usage_events "
                      "WHERE record_index <> 1 ORDER BY 1, 2").fetchall()
    assert lines == [(0, 0, "quarantined", "no_price"), (0, 1, "quarantined", "no_price"),
                     (2, 0, "quarantined", "no_price"), (2, 1, "quarantined", "no_price")]
    q = r.con.sql("SELECT record_index, reason FROM quarantine ORDER BY 1").fetchall()
    assert q == [(0, "no_price"), (2, "no_price")]
    # only k2: tokens 100 x 0.002 = 0.20, unpriced 3 x 0.5 = 1.50
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "tokens", Decimal("0.002"), Decimal(100), Decimal("0.20"), 1),
        ("INV-202610-c_usd", "unpriced", Decimal("0.5"), Decimal(3), Decimal("1.50"), 1),
    ]
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("1.70"), 2, 1)}


def test_an_unknown_customer_quarantines_the_whole_event(tmp_path):
    write_dump(tmp_path / "raw", F, [batch(event("k1", prop("tokens", 1), prop("requests", 1), customer="cust-x"))])
    r = run(tmp_path)
    assert r.outcomes() == {(F, 1, 0): ("quarantined", "unknown_customer")}
    assert r.invoices() == {}


# --------------------------------------------------------------------------------------------------
# Event prices: a decimal string in major units

def test_event_price_is_a_unit_price_in_major_units(tmp_path):
    write_dump(tmp_path / "raw", F, [
        batch(event("k1", prop("tokens", 10, price="0.125")),
              event("k2", prop("tokens", 1, price="0.125")),
              event("k3", prop("requests", 3, price="0.1235"), customer="cust-bhd"),
              event("k4", prop("tokens", 4))),
    ])
    r = run(tmp_path)
    sources = r.con.sql("SELECT record_index, unit_price, price_source FROM usage_events ORDER BY 1").fetchall()
    assert sources == [(0, Decimal("0.125"), "event"), (1, Decimal("0.125"), "event"),
                       (2, Decimal("0.1235"), "event"), (3, Decimal("0.002"), "price_book")]
    assert r.invoice_lines() == [
        # 3 x 0.1235 = 0.3705 -> BHD 0.370 (half to even)
        ("INV-202610-c_bhd", "requests", Decimal("0.1235"), Decimal(3), Decimal("0.370"), 1),
        # 4 x 0.002 = 0.008 -> 0.01
        ("INV-202610-c_usd", "tokens", Decimal("0.002"), Decimal(4), Decimal("0.01"), 1),
        # 11 x 0.125 = 1.375 -> 1.38 (one line: same customer, period, metric, unit price)
        ("INV-202610-c_usd", "tokens", Decimal("0.125"), Decimal(11), Decimal("1.38"), 2),
    ]
    assert r.invoices() == {
        "INV-202610-c_bhd": (Decimal("0.370"), 1, 1),
        "INV-202610-c_usd": (Decimal("1.39"), 2, 3),
    }


def test_long_decimal_price_strings_are_exact(tmp_path):
    write_dump(tmp_path / "raw", F, [
        batch(event("k1", prop("tokens", 1, price="0.004999999999999999")),
              event("k2", prop("requests", 1, price="0.005000000000000001"))),
    ])
    r = run(tmp_path)
    # 0.004999999999999999 -> 0.00 and 0.005000000000000001 -> 0.01 (a float would say 0.005 for both)
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "requests", Decimal("0.005000000000000001"), Decimal(1), Decimal("0.01"), 1),
        ("INV-202610-c_usd", "tokens", Decimal("0.004999999999999999"), Decimal(1), Decimal("0.00"), 1),
    ]


def test_thousands_of_short_batches_split_over_the_threads_keep_every_verdict(tmp_path):
    """5,000 one-event batch lines stage as one batch dealt over DuckDB's threads (each part a vector
    of lines or more). Beside them: a batch of 1000 events with one failed index, a 207, and events with
    a bad property, on odd and even line numbers. Hand count: 4,996 good events of tokens 100 each, one
    1000-event batch of requests 1 with event 7 rejected; 0.002 × 100 × 4,996 = 999.20, 1 × 999."""
    lines = [batch(event(f"k{n}", prop("tokens", 100))) for n in range(5000)]
    lines[1200] = batch(event("bad-even", prop("tokens", -1)))                    # line 1201
    lines[2501] = batch(event("bad-odd", prop("tokens", "100")))                   # line 2502
    lines[3999] = batch(*(event(f"r{i}", prop("requests", 1)) for i in range(1000)),
                        response={"status": 207, "body": {"failed": [{"index": 7}]}})  # line 4000
    lines[4600] = "not json"                                                        # line 4601
    write_dump(tmp_path / "raw", F, lines)

    r = run(tmp_path)

    outcomes = r.outcomes()
    assert len(outcomes) == 4996 + 1000 + 3
    assert outcomes[(F, 1201, 0)] == ("quarantined", "invalid_value")
    assert outcomes[(F, 2502, 0)] == ("quarantined", "schema_violation")
    assert outcomes[(F, 4601, 0)] == ("quarantined", "invalid_json")
    assert outcomes[(F, 4000, 7)] == ("rejected_by_vendor", None)
    assert sum(v == ("billed", None) for v in outcomes.values()) == 4996 + 999
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("1998.20"), 2, 4996 + 999)}
