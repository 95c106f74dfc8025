"""Pricing models (SPEC §8): graduated and volume tiers, packages, flat fees, minimum commitments.

Hand-computed from the reference below. claims (samplehc claim-check, sum) is graduated for USD:
0.50 up to 100, 0.40 up to 1000 with a flat fee of 10, 0.25 above. pings (samplehc ping, count) is volume:
0.10 up to 10, 0.05 above with a flat fee of 2. storage_peak (samplehc storage, max) comes in packages of
10 at 5 USD. org_usd is c_usd (UTC); c_ny keeps its per-unit claims price of 0.40.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from harness import REFERENCE, envelope, write_dump, write_reference
from test_lifecycle import ISSUER, claim, go

D = Decimal
SEPT, OCT = date(2026, 9, 1), date(2026, 10, 1)
PRICES = """metric_id,customer_id,currency,unit_price,effective_from,effective_to,model,package_size
claims,,USD,0,,,graduated,
claims,c_ny,USD,0.40,,,,
pings,,USD,0,,,volume,
storage_peak,,USD,5,,,package,10
tokens,,USD,0,,,graduated,
visits,,USD,10,,,,
"""
TIERS = """metric_id,customer_id,currency,effective_from,up_to,unit_price,flat_fee
claims,,USD,,100,0.50,
claims,,USD,,1000,0.40,10
claims,,USD,,,0.25,
tokens,,USD,,1000,0.002,
tokens,,USD,,,0.001,
pings,,USD,,10,0.10,
pings,,USD,,,0.05,2
"""


def reference(tmp_path, **extra: str):
    return write_reference(tmp_path / "reference", {"issuer.csv": ISSUER, "prices.csv": PRICES,
                                                   "price_tiers.csv": TIERS, **extra})


def event(slug: str, quantity, n: int, day: int = 10, month: int = 9, account: str = "org_usd") -> dict:
    return envelope({"eventSlug": slug, "quantity": quantity, "occurredAt": f"2026-{month:02d}-{day:02d}T12:00:00Z"},
                    received_at=f"2026-12-01T01:{n // 60:02d}:{n % 60:02d}Z", account=account)


def lines(tmp_path, customer: str = "c_usd", month: str = "202609") -> list[tuple]:
    import duckdb

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        return con.sql("SELECT metric_id, kind, tier, unit_price, quantity, amount FROM invoice_lines "
                       "WHERE invoice_id = ? ORDER BY metric_id, kind DESC, tier, unit_price",
                       params=[f"INV-{month}-{customer}"]).fetchall()


def total(tmp_path, customer: str = "c_usd", month: str = "202609") -> Decimal | None:
    import duckdb

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("SELECT total FROM invoices WHERE invoice_id = ?", params=[f"INV-{month}-{customer}"]).fetchall()
    return rows[0][0] if rows else None


@pytest.mark.parametrize(("quantities", "expected", "invoice_total"), [
    ([0], [("usage", 1, D("0.5"), D(0), D("0.00"))], D("0.00")),
    ([60, 40], [("usage", 1, D("0.5"), D(100), D("50.00"))], D("50.00")),  # exactly up_to
    ([100, 1], [("usage", 1, D("0.5"), D(100), D("50.00")), ("usage", 2, D("0.4"), D(1), D("0.40")),
                ("flat_fee", 2, D(10), D(1), D("10.00"))], D("60.40")),  # one unit above
    ([1001], [("usage", 1, D("0.5"), D(100), D("50.00")), ("usage", 2, D("0.4"), D(900), D("360.00")),
              ("usage", 3, D("0.25"), D(1), D("0.25")), ("flat_fee", 2, D(10), D(1), D("10.00"))], D("420.25")),
])
def test_graduated(tmp_path, quantities, expected, invoice_total):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [event("claim-check", q, n) for n, q in enumerate(quantities)])
    go(tmp_path)
    assert [line[1:] for line in lines(tmp_path)] == sorted(expected, key=lambda x: (x[0] != "usage", x[1]))
    assert total(tmp_path) == invoice_total


@pytest.mark.parametrize(("events", "expected", "invoice_total"), [
    (10, [("usage", 1, D("0.1"), D(10), D("1.00"))], D("1.00")),
    (11, [("usage", 2, D("0.05"), D(11), D("0.55")), ("flat_fee", 2, D(2), D(1), D("2.00"))], D("2.55")),
])
def test_volume_prices_every_unit_at_the_tier_holding_the_quantity(tmp_path, events, expected, invoice_total):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [event("ping", 1, n) for n in range(events)])
    go(tmp_path)
    assert [line[1:] for line in lines(tmp_path)] == expected
    assert total(tmp_path) == invoice_total


@pytest.mark.parametrize(("size", "peak", "packages", "amount"), [
    (10, 25, 3, D("15.00")), (10, 30, 3, D("15.00")), (10, 31, 4, D("20.00")), (1, 3, 3, D("15.00")),
])
def test_packages_are_whole_and_rounded_up(tmp_path, size, peak, packages, amount):
    reference(tmp_path, **{"prices.csv": PRICES.replace("package,10", f"package,{size}")})
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [event("storage", 1, 0), event("storage", peak, 1)])
    go(tmp_path)
    assert [line[1:] for line in lines(tmp_path)] == [("usage", None, D(5), D(packages), amount)]


def test_fractional_quantities_and_event_prices_on_a_graduated_metric(tmp_path):
    """paygentic tokens, graduated 0.002 up to 1000 and 0.001 above; an event-carried price stays per unit."""
    reference(tmp_path)
    batch = {"events": [
        {"idempotencyKey": "k1", "customerId": "cust-usd", "merchantId": "m", "timestamp": "2026-09-10T12:00:00Z",
         "properties": [{"billableMetricId": "tokens", "quantity": 1250.5}]},
        {"idempotencyKey": "k2", "customerId": "cust-usd", "merchantId": "m", "timestamp": "2026-09-11T12:00:00Z",
         "properties": [{"billableMetricId": "tokens", "quantity": 10, "price": "0.5"}]}]}
    write_dump(tmp_path / "raw", "paygentic/a.jsonl", [envelope(batch, received_at="2026-12-01T00:00:00Z")])
    go(tmp_path)
    # 1000 x 0.002 = 2.00; 250.5 x 0.001 = 0.2505 -> 0.25; the event's own price: 10 x 0.5 = 5.00
    assert lines(tmp_path) == [("tokens", "usage", 1, D("0.002"), D(1000), D("2.00")),
                               ("tokens", "usage", 2, D("0.001"), D("250.5"), D("0.25")),
                               ("tokens", "usage", None, D("0.5"), D(10), D("5.00"))]
    assert total(tmp_path) == D("7.25")


def test_a_per_unit_customer_row_keeps_todays_lines(tmp_path):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [event("claim-check", 150, 0, account="org_ny")])
    go(tmp_path)
    assert lines(tmp_path, "c_ny") == [("claims", "usage", None, D("0.4"), D(150), D("60.00"))]


COMMITMENTS = "customer_id,currency,minimum_amount,effective_from,effective_to\nc_usd,USD,100,2026-09-01,\n"


def test_a_minimum_commitment_tops_up_also_a_month_without_usage(tmp_path):
    reference(tmp_path, **{"commitments.csv": COMMITMENTS})
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [
        event("claim-check", 101, 0),                          # September: 60.40
        event("claim-check", 5, 1, month=10, account="org_ny"),  # October: c_ny only, so c_usd's minimum runs on
    ])
    go(tmp_path)
    assert lines(tmp_path)[-1] == ("minimum_commitment", "minimum", None, D("39.60"), D(1), D("39.60"))
    assert total(tmp_path) == D("100.00")
    assert lines(tmp_path, month="202610") == [("minimum_commitment", "minimum", None, D(100), D(1), D("100.00"))]
    assert total(tmp_path, month="202611") is None  # after the last month with billed usage


def test_a_minimum_exactly_met_adds_nothing(tmp_path):
    reference(tmp_path, **{"commitments.csv": COMMITMENTS})
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [event("claim-check", 200, 0)])  # 50.00 + 40.00 + 10.00
    go(tmp_path)
    assert total(tmp_path) == D("100.00")
    assert all(line[1] != "minimum" for line in lines(tmp_path))


def test_a_late_record_across_a_tier_boundary_gives_a_note_of_the_re_rated_month(tmp_path):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [event("claim-check", 100, 0)])
    go(tmp_path, SEPT, "2026-10-03")  # issued: 100 x 0.50 = 50.00
    write_dump(tmp_path / "raw", "samplehc/b.jsonl", [event("claim-check", 1, 1)])
    p = go(tmp_path)
    assert p.documents["ADJ-202609-c_usd"][:5] == ("debit_note", "draft", "c_usd", SEPT, D("10.40"))
    # tier 1 is as issued; tier 2 and its fee are new (both records stand behind every usage line of the month)
    assert p.lines["ADJ-202609-c_usd"] == [("claims", D("0.4"), D(1), D("0.40"), 2), ("claims", D(10), D(1), D("10.00"), 0)]


GRADUATED = [(D(100), D("0.50")), (D(1000), D("0.40")), (None, D("0.25"))]


def graduated_amount(quantity: Decimal) -> Decimal:
    """The graduated price of TIERS without fees, unrounded, written out a second way: a sum over units."""
    lower, amount = D(0), D(0)
    for up_to, price in GRADUATED:
        top = quantity if up_to is None else min(quantity, up_to)
        if top > lower:
            amount += (top - lower) * price
        lower = up_to or lower
    return amount


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(quantities=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=4))
def test_tier_quantities_add_up_and_the_amount_is_monotone(tmp_path_factory, quantities):
    tmp_path = tmp_path_factory.mktemp("tiers")
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [event("claim-check", q, n) for n, q in enumerate(quantities)])
    go(tmp_path)
    usage = [line for line in lines(tmp_path) if line[1] == "usage"]
    month = D(sum(quantities))
    assert sum((line[4] for line in usage), D(0)) == month  # the tiers split the month's quantity
    assert all(line[4] >= 0 for line in usage)
    fees = sum((line[5] for line in lines(tmp_path) if line[1] == "flat_fee"), D(0))
    assert fees == (D(10) if month > 100 else D(0))
    unrounded = graduated_amount(month)
    assert abs(total(tmp_path) - fees - unrounded) <= D("0.005") * len(usage)  # each line rounded once
    assert graduated_amount(month + D("0.01")) >= unrounded


def _tier_frame(model: str) -> tuple:
    import polars as pl

    tiers = pl.DataFrame({
        "metric_id": ["m"] * 3, "customer_id": [None] * 3, "currency": ["USD"] * 3, "effective_from": [None] * 3,
        "tier": [1, 2, 3], "lower_bound": [D(0), D(100), D(1000)], "up_to": [D(100), D(1000), None],
        "unit_price": [D("0.5"), D("0.4"), D("0.25")], "flat_fee": [D(0), D(10), D(0)]},
        schema_overrides={"customer_id": pl.String, "effective_from": pl.Date, "tier": pl.Int32,
                          "lower_bound": pl.Decimal(38, 18), "up_to": pl.Decimal(38, 18),
                          "unit_price": pl.Decimal(38, 18), "flat_fee": pl.Decimal(38, 18)})
    return tiers


def _rated(model: str, quantity: Decimal):
    import polars as pl

    from transforms.marts.rating import rate

    aggregated = pl.DataFrame({
        "invoice_id": ["INV-202609-c"], "customer_id": ["c"], "period_start": [SEPT], "metric_id": ["m"],
        "aggregation": ["sum"], "unit_price": [None], "price_model": [model], "price_row_customer": [None],
        "price_row_from": [None], "currency": ["USD"], "quantity": [quantity], "event_count": [1], "record_count": [1]},
        schema_overrides={"unit_price": pl.Decimal(38, 18), "price_row_customer": pl.String,
                          "price_row_from": pl.Date, "quantity": pl.Decimal(38, 18)})
    return rate(aggregated, _tier_frame(model), aggregated.head(0)).to_dicts()


@settings(max_examples=200, deadline=None)
@given(quantity=st.decimals(min_value=0, max_value=10**6, places=3), step=st.decimals(min_value=0, max_value=500,
                                                                                        places=3))
def test_rating_invariants(quantity, step):
    def amount(rows):
        return sum((r["quantity"] * r["unit_price"] for r in rows), D(0))

    graduated = _rated("graduated", quantity)
    assert sum((r["quantity"] for r in graduated if r["kind"] == "usage"), D(0)) == quantity
    assert amount(_rated("graduated", quantity + step)) >= amount(graduated)  # monotone in quantity
    volume = [r for r in _rated("volume", quantity) if r["kind"] == "usage"]
    assert len(volume) == 1 and volume[0]["quantity"] == quantity
    price = next(p for up_to, p in GRADUATED if up_to is None or quantity <= up_to)
    assert volume[0]["unit_price"] == price  # every unit at the price of the tier holding the quantity


def test_explain_shows_the_month_aggregate_and_its_split(tmp_path, capsys):
    from dagster_project.cli import main

    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [event("claim-check", q, n) for n, q in enumerate([600, 401])])
    go(tmp_path)
    assert main(["explain", "INV-202609-c_usd", "--db", str(tmp_path / "warehouse.duckdb")]) == 0
    out = capsys.readouterr().out
    assert "claims, graduated tier 2: units above 100 to 1,000 at 0.40 USD per unit: 900 × 0.40 USD = 360.00 USD" in out
    assert ("a graduated price rates the month's quantity as a whole: the month's sum over 2 records is 1,001; "
            "its tier lines add up to 1,001 ✓") in out
    assert "claims, flat fee of graduated tier 2" in out and "does not match" not in out
