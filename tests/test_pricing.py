"""Pricing and invoices (SPEC §3-5): price book choice, effective dates on the local date, billing
periods in the customer's timezone, currency of price rows, half-to-even rounding to the minor unit,
exact decimals, invoice lines and totals, deterministic ids, DECIMAL columns, reconciliation.

Expected numbers are worked out by hand from SPEC and ``harness.REFERENCE``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import REFERENCE, envelope, run, write_dump, write_reference

S = "samplehc/a.jsonl"
T = "tula/a.jsonl"
Q = "sequence/a.jsonl"
P = "paygentic/a.jsonl"


def hc(slug, quantity, account="org_usd", occurred=None, received_at="2026-10-03T12:00:00Z", **fields):
    body = {"eventSlug": slug, "quantity": quantity}
    if occurred:
        body["occurredAt"] = occurred
    return envelope(body, received_at=received_at, account=account, **fields)


def tula(client, quantity, occurred="2026-10-05T12:00:00Z", price=None, event_type="Visit",
         received_at="2026-10-03T12:00:00Z"):
    body = {"billingEventGuid": str(uuid.uuid4()), "eventDateTime": occurred, "eventTypeId": event_type,
            "quantity": quantity}
    if price is not None:
        body["price"] = price
    return envelope(body, received_at=received_at, path=f"/api/v1/BillingEvents/{client}")


def seq(alias, event_type, timestamp=None, received_at="2026-10-03T12:00:00Z", **properties):
    body = {"customerAlias": alias, "eventType": event_type}
    if timestamp:
        body["eventTimestamp"] = timestamp
    if properties:
        body["eventProperties"] = properties
    return envelope(body, received_at=received_at)


def pg_event(key, *properties, customer="cust-usd", timestamp="2026-10-05T12:00:00Z"):
    return {"idempotencyKey": key, "customerId": customer, "merchantId": "m1", "timestamp": timestamp,
            "properties": [{"billableMetricId": m, "quantity": q, **({"price": p} if p is not None else {})}
                           for m, q, p in properties]}


def pg(*events, received_at="2026-10-03T12:00:00Z", **fields):
    return envelope({"events": list(events)}, received_at=received_at, **fields)


def unit_prices(result, source_file):
    return dict(result.con.sql(
        "SELECT line_number, unit_price FROM usage_events WHERE source_file = ? ORDER BY 1",
        params=[source_file]).fetchall())


def with_prices(tmp_path, old: str, new: str, meters: str = ""):
    prices = REFERENCE["prices.csv"].replace(old, new)
    assert prices != REFERENCE["prices.csv"], "the replaced price row must exist"
    overrides = {"prices.csv": prices}
    if meters:
        overrides["meters.csv"] = REFERENCE["meters.csv"] + meters
    return write_reference(tmp_path / "reference-custom", overrides=overrides)


# --------------------------------------------------------------------------------------------------
# Which price row

def test_customer_specific_price_beats_the_default(tmp_path):
    write_dump(tmp_path / "raw", S, [
        hc("claim-check", 10, account="org_ny", occurred="2026-10-05T12:00:00Z"),
        hc("claim-check", 10, account="org_usd", occurred="2026-10-05T12:00:00Z"),
        hc("ping", 1, account="org_ny", occurred="2026-10-05T12:00:00Z"),  # no c_ny row: the default
    ])
    r = run(tmp_path)
    assert unit_prices(r, S) == {1: Decimal("0.40"), 2: Decimal("0.50"), 3: Decimal("0.01")}
    assert r.invoice_lines() == [
        ("INV-202610-c_ny", "claims", Decimal("0.40"), Decimal(10), Decimal("4.00"), 1),
        ("INV-202610-c_ny", "pings", Decimal("0.01"), Decimal(1), Decimal("0.01"), 1),
        ("INV-202610-c_usd", "claims", Decimal("0.50"), Decimal(10), Decimal("5.00"), 1),
    ]
    assert r.invoices() == {
        "INV-202610-c_ny": (Decimal("4.01"), 2, 2),
        "INV-202610-c_usd": (Decimal("5.00"), 1, 1),
    }
    sources = {row[0] for row in r.con.sql("SELECT DISTINCT price_source FROM usage_events").fetchall()}
    assert sources == {"price_book"}


def test_effective_from_is_inclusive_and_effective_to_exclusive(tmp_path):
    # claims USD: 0.50 until 2026-10-15 (exclusive), 0.55 from 2026-10-15 (inclusive); c_usd is UTC
    write_dump(tmp_path / "raw", S, [
        hc("claim-check", 1, occurred="2026-10-14T23:59:59.999999Z"),
        hc("claim-check", 1, occurred="2026-10-15T00:00:00Z"),
        hc("claim-check", 1, occurred="2026-10-31T23:59:59Z"),
        hc("claim-check", 1, occurred="2026-10-01T00:00:00Z"),
    ])
    r = run(tmp_path)
    assert unit_prices(r, S) == {1: Decimal("0.50"), 2: Decimal("0.55"), 3: Decimal("0.55"), 4: Decimal("0.50")}
    # two prices in one month: two lines
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "claims", Decimal("0.50"), Decimal(2), Decimal("1.00"), 2),
        ("INV-202610-c_usd", "claims", Decimal("0.55"), Decimal(2), Decimal("1.10"), 2),
    ]
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("2.10"), 2, 4)}


def test_effective_dates_apply_to_the_local_date(tmp_path):
    reference = with_prices(tmp_path, "claims,c_ny,USD,0.40,,\n",
                            "claims,c_ny,USD,0.40,,2026-10-15\nclaims,c_ny,USD,0.45,2026-10-15,\n")
    write_dump(tmp_path / "raw", S, [
        # New York is UTC-4 in October: 03:59:59Z is still the 14th, 04:00Z the 15th
        hc("claim-check", 1, account="org_ny", occurred="2026-10-15T03:59:59Z"),
        hc("claim-check", 1, account="org_ny", occurred="2026-10-15T04:00:00Z"),
        # a UTC customer at 03:00Z on the 15th is already on the 15th
        hc("claim-check", 1, account="org_usd", occurred="2026-10-15T03:00:00Z"),
        # an offset in the input changes nothing: 2026-10-14T23:30-04:00 is 03:30Z on the 15th
        hc("claim-check", 1, account="org_ny", occurred="2026-10-14T23:30:00-04:00"),
    ])
    r = run(tmp_path, reference_dir=reference)
    assert unit_prices(r, S) == {1: Decimal("0.40"), 2: Decimal("0.45"), 3: Decimal("0.55"), 4: Decimal("0.40")}
    local = dict(r.con.sql("SELECT line_number, local_date FROM usage_events").fetchall())
    assert local == {1: date(2026, 10, 14), 2: date(2026, 10, 15), 3: date(2026, 10, 15), 4: date(2026, 10, 14)}
    assert r.invoice_lines() == [
        ("INV-202610-c_ny", "claims", Decimal("0.40"), Decimal(2), Decimal("0.80"), 2),
        ("INV-202610-c_ny", "claims", Decimal("0.45"), Decimal(1), Decimal("0.45"), 1),
        ("INV-202610-c_usd", "claims", Decimal("0.55"), Decimal(1), Decimal("0.55"), 1),
    ]


def test_price_rows_apply_only_to_customers_of_their_currency(tmp_path):
    write_dump(tmp_path / "raw", S, [
        hc("ping", 1, account="org_jpy"),          # pings: USD default only
        hc("storage", 5, account="org_jpy"),       # storage_peak: USD default only
        hc("claim-check", 3, account="org_jpy"),   # claims: a JPY default of 60
        hc("ping", 2, account="org_bhd"),          # pings: USD default only
        hc("claim-check", 3, account="org_bhd"),   # claims: a BHD default of 0.125
    ])
    write_dump(tmp_path / "raw", Q, [seq("alias-jpy", "api-call")])  # api_calls: USD and EUR only
    r = run(tmp_path)
    assert r.outcomes() == {
        (S, 1, 0): ("quarantined", "no_price"),
        (S, 2, 0): ("quarantined", "no_price"),
        (S, 3, 0): ("billed", None),
        (S, 4, 0): ("quarantined", "no_price"),
        (S, 5, 0): ("billed", None),
        (Q, 1, 0): ("quarantined", "no_price"),
    }
    assert r.invoice_lines() == [
        ("INV-202610-c_bhd", "claims", Decimal("0.125"), Decimal(3), Decimal("0.375"), 1),
        ("INV-202610-c_jpy", "claims", Decimal(60), Decimal(3), Decimal(180), 1),
    ]
    assert r.table("invoices", "ORDER BY invoice_id")["currency"].to_list() == ["BHD", "JPY"]


def test_no_price_anywhere_is_quarantined_no_price(tmp_path):
    reference = with_prices(
        tmp_path, "pings,,USD,0.01,,\n", "pings,,USD,0.01,2026-10-10,2026-10-20\nspecial,c_ny,USD,1,,\n",
        meters="samplehc,special-check,special,sum,\n")
    write_dump(tmp_path / "raw", S, [
        hc("ping", 1, occurred="2026-10-09T23:59:59Z"),   # before the only pings row
        hc("ping", 1, occurred="2026-10-10T00:00:00Z"),
        hc("special-check", 1, account="org_usd"),        # only c_ny has a special row
        hc("special-check", 1, account="org_ny"),
        hc("ping", 1, occurred="2026-10-19T23:59:59Z"),
        hc("ping", 1, occurred="2026-10-20T00:00:00Z"),   # effective_to is exclusive
    ])
    write_dump(tmp_path / "raw", P, [pg(pg_event("k1", ("unpriced", 5, None)))])
    r = run(tmp_path, reference_dir=reference)
    assert r.outcomes() == {
        (S, 1, 0): ("quarantined", "no_price"),
        (S, 2, 0): ("billed", None),
        (S, 3, 0): ("quarantined", "no_price"),
        (S, 4, 0): ("billed", None),
        (S, 5, 0): ("billed", None),
        (S, 6, 0): ("quarantined", "no_price"),
        (P, 1, 0): ("quarantined", "no_price"),
    }
    q = r.con.sql("SELECT source_file, line_number, reason FROM quarantine ORDER BY 1, 2").fetchall()
    assert q == [(P, 1, "no_price"), (S, 1, "no_price"), (S, 3, "no_price"), (S, 6, "no_price")]
    assert r.invoices() == {
        "INV-202610-c_ny": (Decimal("1.00"), 1, 1),
        "INV-202610-c_usd": (Decimal("0.02"), 1, 2),
    }


# --------------------------------------------------------------------------------------------------
# Billing periods: calendar months in the customer's timezone

def test_period_is_the_local_month_in_new_york(tmp_path):
    write_dump(tmp_path / "raw", S, [
        hc("claim-check", 1, account="org_ny", occurred="2026-10-01T02:00:00Z"),   # 09-30 22:00 EDT
        hc("claim-check", 2, account="org_ny", occurred="2026-10-01T04:00:00Z"),   # 10-01 00:00 EDT
        hc("claim-check", 4, account="org_ny", occurred="2026-11-01T03:59:59Z"),   # 10-31 23:59:59 EDT
        hc("claim-check", 8, account="org_ny", occurred="2026-11-01T04:00:00Z"),   # 11-01 00:00 EDT
        hc("claim-check", 16, account="org_usd", occurred="2026-10-01T02:00:00Z"),  # UTC: October
    ])
    r = run(tmp_path)
    periods = dict(r.con.sql("SELECT line_number, period_start FROM usage_events").fetchall())
    assert periods == {1: date(2026, 9, 1), 2: date(2026, 10, 1), 3: date(2026, 10, 1), 4: date(2026, 11, 1),
                       5: date(2026, 10, 1)}
    invoices = r.con.sql(
        "SELECT invoice_id, customer_id, period_start, period_end, currency, total, line_count, event_count "
        "FROM invoices ORDER BY 1").fetchall()
    assert invoices == [
        ("INV-202609-c_ny", "c_ny", date(2026, 9, 1), date(2026, 10, 1), "USD", Decimal("0.40"), 1, 1),
        ("INV-202610-c_ny", "c_ny", date(2026, 10, 1), date(2026, 11, 1), "USD", Decimal("2.40"), 1, 2),
        ("INV-202610-c_usd", "c_usd", date(2026, 10, 1), date(2026, 11, 1), "USD", Decimal("8.00"), 1, 1),
        ("INV-202611-c_ny", "c_ny", date(2026, 11, 1), date(2026, 12, 1), "USD", Decimal("3.20"), 1, 1),
    ]


def test_period_is_the_local_month_across_the_berlin_dst_change(tmp_path):
    # Europe/Berlin: CEST (+02:00) until 2026-10-25 01:00Z, then CET (+01:00)
    write_dump(tmp_path / "raw", Q, [
        seq("alias-eur", "api-call", "2026-09-30T21:59:59Z", received_at="2026-10-03T12:00:01Z"),  # 09-30 23:59:59
        seq("alias-eur", "api-call", "2026-09-30T22:00:00Z", received_at="2026-10-03T12:00:02Z"),  # 10-01 00:00
        seq("alias-eur", "api-call", "2026-10-25T00:30:00Z", received_at="2026-10-03T12:00:03Z"),  # 10-25 02:30 CEST
        seq("alias-eur", "api-call", "2026-10-25T01:30:00Z", received_at="2026-10-03T12:00:04Z"),  # 10-25 02:30 CET
        seq("alias-eur", "api-call", "2026-10-31T22:59:59Z", received_at="2026-10-03T12:00:05Z"),  # 10-31 23:59:59
        seq("alias-eur", "api-call", "2026-10-31T23:00:00Z", received_at="2026-10-03T12:00:06Z"),  # 11-01 00:00
    ])
    r = run(tmp_path)
    rows = r.con.sql("SELECT line_number, local_date, period_start FROM usage_events ORDER BY 1").fetchall()
    assert rows == [
        (1, date(2026, 9, 30), date(2026, 9, 1)),
        (2, date(2026, 10, 1), date(2026, 10, 1)),
        (3, date(2026, 10, 25), date(2026, 10, 1)),
        (4, date(2026, 10, 25), date(2026, 10, 1)),
        (5, date(2026, 10, 31), date(2026, 10, 1)),
        (6, date(2026, 11, 1), date(2026, 11, 1)),
    ]
    assert r.invoices() == {
        "INV-202609-c_eur": (Decimal("0.02"), 1, 1),
        "INV-202610-c_eur": (Decimal("0.08"), 1, 4),
        "INV-202611-c_eur": (Decimal("0.02"), 1, 1),
    }


# --------------------------------------------------------------------------------------------------
# Rounding: half to even, to the currency's minor unit, each line first

def test_usd_rounds_half_to_even_to_cents_line_by_line(tmp_path):
    write_dump(tmp_path / "raw", P, [
        pg(pg_event("k1", ("tokens", 1, "0.125")),      # 0.125 -> 0.12
           pg_event("k2", ("requests", 1, "0.135")),    # 0.135 -> 0.14
           pg_event("k3", ("unpriced", 1, "0.145")),    # 0.145 -> 0.14
           # September: two lines of 0.125 each -> 0.12 + 0.12 = 0.24, not round(0.25) = 0.25
           pg_event("k4", ("tokens", 1, "0.125"), timestamp="2026-09-05T12:00:00Z"),
           pg_event("k5", ("requests", 1, "0.125"), timestamp="2026-09-05T12:00:00Z")),
    ])
    r = run(tmp_path)
    assert r.invoice_lines() == [
        ("INV-202609-c_usd", "requests", Decimal("0.125"), Decimal(1), Decimal("0.12"), 1),
        ("INV-202609-c_usd", "tokens", Decimal("0.125"), Decimal(1), Decimal("0.12"), 1),
        ("INV-202610-c_usd", "requests", Decimal("0.135"), Decimal(1), Decimal("0.14"), 1),
        ("INV-202610-c_usd", "tokens", Decimal("0.125"), Decimal(1), Decimal("0.12"), 1),
        ("INV-202610-c_usd", "unpriced", Decimal("0.145"), Decimal(1), Decimal("0.14"), 1),
    ]
    assert r.invoices() == {
        "INV-202609-c_usd": (Decimal("0.24"), 2, 2),
        "INV-202610-c_usd": (Decimal("0.40"), 3, 3),
    }


def test_jpy_rounds_to_whole_yen_half_to_even(tmp_path):
    write_dump(tmp_path / "raw", T, [
        tula("clinic-jpy", 1, price=62.5),     # 62.5 -> 62
        tula("clinic-jpy", 1, price=63.5),     # 63.5 -> 64
        tula("clinic-jpy", 0.5, price=3),      # 1.5 -> 2
        tula("clinic-jpy", 0.25),              # book 1500: 375 exactly
    ])
    r = run(tmp_path)
    assert r.invoice_lines() == [
        ("INV-202610-c_jpy", "visits", Decimal(3), Decimal("0.5"), Decimal(2), 1),
        ("INV-202610-c_jpy", "visits", Decimal("62.5"), Decimal(1), Decimal(62), 1),
        ("INV-202610-c_jpy", "visits", Decimal("63.5"), Decimal(1), Decimal(64), 1),
        ("INV-202610-c_jpy", "visits", Decimal(1500), Decimal("0.25"), Decimal(375), 1),
    ]
    assert r.invoices() == {"INV-202610-c_jpy": (Decimal(503), 4, 4)}
    price_sources = dict(r.con.sql("SELECT line_number, price_source FROM usage_events").fetchall())
    assert price_sources == {1: "event", 2: "event", 3: "event", 4: "price_book"}


def test_bhd_rounds_to_three_digits_half_to_even(tmp_path):
    write_dump(tmp_path / "raw", P, [
        pg(pg_event("k1", ("tokens", 5, None), customer="cust-bhd"),          # 5 x 0.0005 = 0.0025 -> 0.002
           pg_event("k2", ("requests", 1, "0.0035"), customer="cust-bhd"),    # 0.0035 -> 0.004
           pg_event("k3", ("requests", 3, None), customer="cust-bhd")),       # 3 x 0.1 = 0.300
    ])
    write_dump(tmp_path / "raw", S, [hc("claim-check", 7, account="org_bhd")])  # 7 x 0.125 = 0.875
    r = run(tmp_path)
    assert r.invoice_lines() == [
        ("INV-202610-c_bhd", "claims", Decimal("0.125"), Decimal(7), Decimal("0.875"), 1),
        ("INV-202610-c_bhd", "requests", Decimal("0.0035"), Decimal(1), Decimal("0.004"), 1),
        ("INV-202610-c_bhd", "requests", Decimal("0.1"), Decimal(3), Decimal("0.300"), 1),
        ("INV-202610-c_bhd", "tokens", Decimal("0.0005"), Decimal(5), Decimal("0.002"), 1),
    ]
    assert r.invoices() == {"INV-202610-c_bhd": (Decimal("1.181"), 4, 4)}


def test_json_numbers_are_the_decimals_they_spell(tmp_path):
    # float(1.015) is 1.01499999999999990..., float(2.675) is 2.67499999999999982...
    write_dump(tmp_path / "raw", P, [
        pg(pg_event("k1", ("requests", 1.015, None)),                                   # x USD 1
           pg_event("k2", ("requests", 2.675, None), timestamp="2026-09-05T12:00:00Z")),
    ])
    write_dump(tmp_path / "raw", T, [tula("Clinic%20USD", 1, price=1.015)])           # quantity 1 x 1.015
    r = run(tmp_path)
    quantities = dict(r.con.sql(
        "SELECT source || ':' || record_index, quantity FROM usage_events").fetchall())
    assert quantities == {"paygentic:0": Decimal("1.015"), "paygentic:1": Decimal("2.675"), "tula:0": Decimal(1)}
    assert r.invoice_lines() == [
        ("INV-202609-c_usd", "requests", Decimal(1), Decimal("2.675"), Decimal("2.68"), 1),
        ("INV-202610-c_usd", "requests", Decimal(1), Decimal("1.015"), Decimal("1.02"), 1),
        ("INV-202610-c_usd", "visits", Decimal("1.015"), Decimal(1), Decimal("1.02"), 1),
    ]
    assert r.invoices() == {
        "INV-202609-c_usd": (Decimal("2.68"), 1, 1),
        "INV-202610-c_usd": (Decimal("2.04"), 2, 2),
    }


def test_fifteen_significant_digits_are_exact(tmp_path):
    line = json.dumps(pg(pg_event("k1", ("requests", "QTY", None))))
    write_dump(tmp_path / "raw", P, [line.replace('"QTY"', "1234567.89012345")])
    r = run(tmp_path)
    # 1234567.89012345 x 1 -> 1234567.89 (the remainder 0.00012345 is below half a cent)
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "requests", Decimal(1), Decimal("1234567.89012345"), Decimal("1234567.89"), 1)]


def test_numbers_beyond_a_double_are_quarantined_not_rounded(tmp_path):
    """DuckDB reads 1.000000000000000001 as 1.0: such a record is quarantined (SPEC: a longer JSON number
    is read exactly or quarantined, never rounded). 0.30000000000000004 has 17 digits and is a double's
    exact text, so it is billed as it is spelled."""
    def spelled(line: dict, **numbers: str) -> str:
        text = json.dumps(line)
        for placeholder, number in numbers.items():
            text = text.replace(f'"{placeholder}"', number)
        return text

    write_dump(tmp_path / "raw", S, [spelled(hc("claim-check", "Q"), Q="3.000000000000000001")])
    write_dump(tmp_path / "raw", T, [spelled(tula("Clinic%20USD", 1, price="P"), P="10.0000000000000000001"),
                                     spelled(tula("Clinic%20USD", "Q"), Q="0.30000000000000004")])
    write_dump(tmp_path / "raw", Q, [spelled(seq("alias-usd", "message-sent", length="L"), L="12345678901234567.5")])
    write_dump(tmp_path / "raw", P, [spelled(pg(pg_event("k1", ("requests", "Q", None)),
                                                pg_event("k2", ("requests", 2, None))), Q="1.000000000000000001")])
    r = run(tmp_path)
    tail = " is a number that cannot be read exactly (more than 15 significant digits, or beyond the range of a double)"
    details = dict(r.con.sql("SELECT source || ':' || line_number || ':' || record_index, detail FROM quarantine "
                             "WHERE reason = 'invalid_value'").fetchall())
    assert details == {"samplehc:1:0": "quantity" + tail, "tula:1:0": "price" + tail,
                       "sequence:1:0": "eventProperties.length" + tail, "paygentic:1:0": "properties[0].quantity" + tail}
    assert r.outcome(T, 2) == ("billed", None)
    assert r.outcome(P, 1, 1) == ("billed", None)
    # visits 0.30000000000000004 x 10 = 3.0000000000000004 -> 3.00; requests 2 x 1 = 2.00
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "requests", Decimal(1), Decimal(2), Decimal("2.00"), 1),
        ("INV-202610-c_usd", "visits", Decimal(10), Decimal("0.30000000000000004"), Decimal("3.00"), 1),
    ]


def test_the_numbers_duckdb_reads_as_another_value_are_found_with_their_paths():
    from transforms.staging.exact_numbers import inexact_number_paths, inexact_numbers

    line = ('{"body": {"a": 1.000000000000000001, "b": 0.1, "c": 12345678901234567890, "d": 1e-400, "e": 1e400,'
            ' "f": "1.000000000000000001", "g": [1, 123456789012345678.5], "h k": 0.30000000000000004,'
            ' "q": 2.0000000000000000001, "q": 1}}')
    assert inexact_numbers(line) == ["$.body.a", "$.body.d", "$.body.g[1]", "$.body.q"]
    assert inexact_numbers("not json 1.000000000000000001") == []
    # which of them have at most 15 significant digits and are not integers (read exactly, SPEC §2)
    assert inexact_number_paths('{"a": 123456789012345678.0, "b": 1e-400, "c": 1e400, "d": 1.0000000000000000000001,'
                                ' "e": -2.50000000000000000000e-350}') == (["$.a", "$.b", "$.d", "$.e"], ["$.b", "$.e"])
    # one per event: the first is all its problem names
    two_events = '{"body": {"events": [{"p": [1.000000000000000001, 2.000000000000000001]}, {"p": [3.000000000000000001]}]}}'
    assert inexact_numbers(two_events) == ["$.body.events[0].p[0]", "$.body.events[1].p[0]"]


def test_a_time_with_nanoseconds_does_not_send_its_line_to_python():
    import duckdb

    from transforms.staging.exact_numbers import flag_maybe_inexact

    lines = ['{"t": "2026-10-05T12:00:00.123456789Z", "q": 1.5}', '{"q": 1.123456789}', '{"q": [1.123456789]}',
             '{"q": 1.123456789 }', '{"q": 1.123456789e2}']
    picked = duckdb.sql(f"SELECT maybe_inexact FROM ({flag_maybe_inexact('(SELECT unnest(?) AS envelope)')})",
                        params=[lines]).fetchall()
    assert picked == [(False,), (True,), (True,), (True,), (True,)]


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789", min_size=1, max_size=25), st.text("0123456789", max_size=25),
       st.one_of(st.none(), st.integers(-420, 420)), st.booleans())
def test_a_number_is_judged_inexact_exactly_when_duckdb_reads_another_value(whole, fraction, exponent, negative):
    """Against DuckDB itself: the number is found (and its line picked by the SQL pre-filter) exactly when
    json_extract_string gives a value other than the one it spells."""
    import duckdb

    from transforms.staging.exact_numbers import flag_maybe_inexact, inexact_numbers

    number = ("-" if negative else "") + whole.lstrip("0").rjust(1, "0") + (f".{fraction}" if fraction else "")
    number += "" if exponent is None else f"e{exponent}"
    line = '{"body": {"q": ' + number + "}}"
    read, maybe = duckdb.sql(f"SELECT json_extract_string(envelope, '$.body.q'), maybe_inexact "
                             f"FROM ({flag_maybe_inexact('(SELECT ? AS envelope)')})", params=[line]).fetchall()[0]
    assert Decimal(read).is_finite() or Decimal(number).adjusted() > 300
    differs = Decimal(read).is_finite() and Decimal(read) != Decimal(number)
    assert inexact_numbers(line) == (["$.body.q"] if differs else [])
    assert maybe or not differs


# --------------------------------------------------------------------------------------------------
# Invoices

def test_a_billed_quantity_of_zero_gives_a_line_and_an_invoice_of_zero(tmp_path):
    write_dump(tmp_path / "raw", S, [hc("claim-check", 0, account="org_usd")])
    write_dump(tmp_path / "raw", P, [pg(pg_event("k1", ("tokens", 0, None), customer="cust-bhd"))])
    r = run(tmp_path)
    assert r.outcomes() == {(S, 1, 0): ("billed", None), (P, 1, 0): ("billed", None)}
    assert r.invoice_lines() == [
        ("INV-202610-c_bhd", "tokens", Decimal("0.0005"), Decimal(0), Decimal(0), 1),
        ("INV-202610-c_usd", "claims", Decimal("0.50"), Decimal(0), Decimal(0), 1),
    ]
    assert r.invoices() == {
        "INV-202610-c_bhd": (Decimal(0), 1, 1),
        "INV-202610-c_usd": (Decimal(0), 1, 1),
    }


def test_event_count_counts_distinct_records(tmp_path):
    write_dump(tmp_path / "raw", P, [
        pg(pg_event("k1", ("tokens", 100, None), ("requests", 2, None), ("tokens", 50, None)),
           pg_event("k2", ("tokens", 10, None))),
    ])
    write_dump(tmp_path / "raw", S, [hc("claim-check", 2, occurred="2026-10-05T12:00:00Z")])
    r = run(tmp_path)
    # tokens 160 x 0.002 = 0.32 (2 records); requests 2 x 1 = 2.00 (1); claims 2 x 0.50 = 1.00 (1)
    assert r.invoice_lines() == [
        ("INV-202610-c_usd", "claims", Decimal("0.50"), Decimal(2), Decimal("1.00"), 1),
        ("INV-202610-c_usd", "requests", Decimal(1), Decimal(2), Decimal("2.00"), 1),
        ("INV-202610-c_usd", "tokens", Decimal("0.002"), Decimal(160), Decimal("0.32"), 2),
    ]
    # 3 records, not 4 (the sum of the lines' counts) nor 5 (usage lines)
    assert r.invoices() == {"INV-202610-c_usd": (Decimal("3.32"), 3, 3)}


def mixed_dump(raw):
    write_dump(raw, "samplehc/2026-10/a.jsonl", [
        hc("claim-check", 3, occurred="2026-10-05T12:00:00Z", headers={"Idempotency-Key": "i1"}),
        hc("claim-check", 3, occurred="2026-10-05T12:00:00Z", headers={"idempotency-key": "i1"},
           received_at="2026-10-03T12:05:00Z"),
        hc("claim-check", 5, account="org_ny", occurred="2026-10-01T02:00:00Z"),
        "{not json",
        hc("ping", 1, account="org_nobody"),
    ])
    write_dump(raw, "tula/a.jsonl.gz", [
        tula("clinic-jpy", 2, price=62.5),
        tula("Clinic%20USD", 1, event_type="Seat"),
    ], gz=True)
    write_dump(raw, "sequence/b.ndjson", [
        seq("alias-eur", "message-sent", length=1234),
        seq("alias-usd", "login", user="u1"),
        seq("alias-usd", "no-meter"),
    ])
    write_dump(raw, "paygentic/c.jsonl", [
        pg(pg_event("k1", ("tokens", 1000, None)), pg_event("k2", ("tokens", 1, None)),
           pg_event("k3", ("requests", -1, None)),
           response={"status": 207, "body": {"failed": [{"index": 1}]}}),
    ])


def test_invoice_ids_and_numbers_are_deterministic_across_runs(tmp_path):
    mixed_dump(tmp_path / "a" / "raw")
    shutil.copytree(tmp_path / "a" / "raw", tmp_path / "b" / "raw")
    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    # by hand: c_usd October: claims 3 x 0.50 = 1.50, seats 1 x 3 = 3.00, active_users 1 x 4.00,
    # tokens 1000 x 0.002 = 2.00; c_ny September (02:00Z is 22:00 EDT): 5 x 0.40 = 2.00;
    # c_jpy: 2 x 62.5 = 125; c_eur: 1234 x 0.001 = 1.234 -> 1.23
    expected = {
        "INV-202609-c_ny": (Decimal("2.00"), 1, 1),
        "INV-202610-c_eur": (Decimal("1.23"), 1, 1),
        "INV-202610-c_jpy": (Decimal(125), 1, 1),
        "INV-202610-c_usd": (Decimal("10.50"), 4, 4),
    }
    assert first.invoices() == expected
    assert second.invoices() == expected
    order = "ORDER BY ALL"
    assert first.table("invoices", order).equals(second.table("invoices", order))
    assert first.table("invoice_lines", order).equals(second.table("invoice_lines", order))


def test_a_second_run_over_the_same_input_changes_nothing(tmp_path):
    mixed_dump(tmp_path / "raw")
    first = run(tmp_path)
    invoices, lines = first.table("invoices", "ORDER BY ALL"), first.table("invoice_lines", "ORDER BY ALL")
    usage = first.table("usage_events", "ORDER BY source_file, line_number, record_index, property_index")
    first.con.close()
    again = run(tmp_path)
    assert again.table("invoices", "ORDER BY ALL").equals(invoices)
    assert again.table("invoice_lines", "ORDER BY ALL").equals(lines)
    assert again.table(
        "usage_events", "ORDER BY source_file, line_number, record_index, property_index").equals(usage)


def test_invoice_total_is_the_sum_of_its_rounded_line_amounts(tmp_path):
    mixed_dump(tmp_path / "raw")
    r = run(tmp_path)
    mismatches = r.con.sql("""
        SELECT i.invoice_id, i.total, sum(l.amount), i.line_count, count(*)
        FROM invoices i JOIN invoice_lines l USING (invoice_id)
        GROUP BY ALL HAVING i.total <> sum(l.amount) OR i.line_count <> count(*)""").fetchall()
    assert mismatches == []
    # each line: quantity x unit_price, exactly, rounded half to even to the currency's minor unit
    minor = {"USD": 2, "EUR": 2, "JPY": 0, "BHD": 3}
    lines = r.con.sql("SELECT currency, quantity, unit_price, amount FROM invoice_lines").fetchall()
    assert len(lines) == 7
    for currency, quantity, unit_price, amount in lines:
        with localcontext() as ctx:
            ctx.prec = 100
            exact = quantity * unit_price
        assert amount == exact.quantize(Decimal(1).scaleb(-minor[currency]), rounding=ROUND_HALF_EVEN)


# --------------------------------------------------------------------------------------------------
# Warehouse shape

MONEY, EXACT = "DECIMAL(38,4)", "DECIMAL(38,18)"


def test_money_and_quantity_columns_are_decimal(tmp_path):
    mixed_dump(tmp_path / "raw")
    r = run(tmp_path)
    types = {}
    for table in ("invoices", "invoice_lines", "usage_events"):
        for name, kind, *_ in r.con.sql(f"DESCRIBE {table}").fetchall():
            types[(table, name)] = kind.replace(" ", "")
    floats = {k: v for k, v in types.items() if any(f in v for f in ("DOUBLE", "FLOAT", "REAL"))}
    assert floats == {}
    assert types[("invoices", "total")] == MONEY
    assert types[("invoice_lines", "amount")] == MONEY
    assert types[("invoice_lines", "unit_price")] == EXACT
    assert types[("invoice_lines", "quantity")] == EXACT
    assert types[("usage_events", "unit_price")] == EXACT
    assert types[("usage_events", "quantity")] == EXACT
    assert types[("invoices", "period_start")] == "DATE"
    assert types[("invoices", "period_end")] == "DATE"
    assert types[("invoice_lines", "period_start")] == "DATE"
    assert types[("usage_events", "period_start")] == "DATE"


def test_reconciliation_has_one_row_per_source_and_adds_up(tmp_path):
    mixed_dump(tmp_path / "raw")
    r = run(tmp_path)
    rows = {row["source"]: row for row in r.table("reconciliation").iter_rows(named=True)}
    outcome_columns = ["billed", "duplicate", "superseded", "voided", "rejected_by_vendor", "unmetered",
                       "quarantined"]
    assert sorted(rows) == ["paygentic", "samplehc", "sequence", "tula"]
    for source, row in rows.items():
        assert row["records"] == sum(row[c] for c in outcome_columns), source
    counts = {s: tuple(row[c] for c in ["records"] + outcome_columns) for s, row in rows.items()}
    assert counts == {
        #                records billed dup  sup  void rej  unm  quar
        "samplehc": (5, 2, 1, 0, 0, 0, 0, 2),
        "tula": (2, 2, 0, 0, 0, 0, 0, 0),
        "sequence": (3, 2, 0, 0, 0, 0, 1, 0),
        "paygentic": (3, 1, 0, 0, 0, 1, 0, 1),
    }
    assert len(r.outcomes()) == 13


def test_reconciliation_lists_sources_without_records(tmp_path):
    write_dump(tmp_path / "raw", S, [hc("claim-check", 1)])
    r = run(tmp_path)
    rows = r.con.sql("SELECT * FROM reconciliation ORDER BY source").fetchall()
    assert rows == [
        ("paygentic", 0, 0, 0, 0, 0, 0, 0, 0),
        ("samplehc", 1, 1, 0, 0, 0, 0, 0, 0),
        ("sequence", 0, 0, 0, 0, 0, 0, 0, 0),
        ("tula", 0, 0, 0, 0, 0, 0, 0, 0),
    ]
