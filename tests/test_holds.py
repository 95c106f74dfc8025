"""Held invoices (transforms.holds): a customer month whose quantity, a line's amount or the total does
not fit its column is held, its records quarantined `invalid_value`; everyone else is billed, the run
succeeds, and later records that make the month fit bill it again, in the published file too."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from harness import envelope, run, write_dump, write_reference

BIG = 99999999999999999999  # the largest whole number DECIMAL(38, 18) holds: 20 nines
HELD_QUANTITY = "the month's quantity of {} does not fit DECIMAL(38, 18)"
TABLES = ("usage_events", "quarantine", "reconciliation", "invoices", "invoice_lines")


def claim(quantity: int, second: int, account: str = "org_usd", slug: str = "claim-check") -> str:
    """A samplehc line with the quantity spelled as an exact JSON integer."""
    return (f'{{"receivedAt": "2026-10-03T12:00:{second:02d}Z", "account": "{account}", '
            f'"body": {{"eventSlug": "{slug}", "quantity": {quantity}}}}}')


def visit(n: int, quantity: int, second: int, modified: str = "2026-10-03T10:00:00Z") -> str:
    """A tula Visit of clinic-ny (c_ny, USD 10 a visit), version ``modified``."""
    return (f'{{"receivedAt": "2026-10-06T12:00:{second:02d}Z", "path": "/api/v1/BillingEvents/clinic-ny", '
            f'"body": {{"billingEventGuid": "{n:08x}-0000-4000-8000-00000000abcd", '
            f'"eventDateTime": "2026-10-03T10:00:00Z", "modifiedDateTime": "{modified}", '
            f'"eventTypeId": "Visit", "quantity": {quantity}}}}}')


def outcomes(con) -> dict[str, tuple]:
    """record_id -> (outcome, reason, detail, invoice_id), one per record."""
    rows = con.sql("SELECT DISTINCT record_id, outcome, reason, detail, invoice_id FROM usage_events").fetchall()
    result = {r[0]: r[1:] for r in rows}
    assert len(result) == len(rows), rows
    return result


def totals(con) -> dict[str, Decimal]:
    return dict(con.sql("SELECT invoice_id, total FROM invoices").fetchall())


def tables(con) -> dict[str, list]:
    return {name: con.sql(f"SELECT * FROM {name} ORDER BY ALL").fetchall() for name in TABLES}


def published(tmp_path: Path) -> dict[str, list]:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        return tables(con)


def held(invoice: str, problem: str) -> tuple:
    return ("quarantined", "invalid_value", f"invoice {invoice} is held: {problem}", None)


def test_a_month_whose_quantity_does_not_fit_is_held_and_everyone_else_is_billed(tmp_path):
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [
        claim(BIG, 1),                        # c_usd: BIG + 1 = 10^20, one more than DECIMAL(38, 18) holds
        claim(1, 2),
        claim(1, 3, slug="ping"),             # the same invoice: held with it
        claim(3, 4, account="org_ny"),        # c_ny: 3 × 0.40 = 1.20
        claim(BIG - 1, 5, account="org_bhd"),  # c_bhd: BIG − 1 + 1 = BIG fits; × 0.125 = 12499999999999999999.875
        claim(1, 6, account="org_bhd"),
    ])

    r = run(tmp_path)

    usd = held("INV-202610-c_usd", HELD_QUANTITY.format("claims"))
    billed = ("billed", None, None)
    assert outcomes(r.con) == {
        "samplehc/a.jsonl:1:0": usd, "samplehc/a.jsonl:2:0": usd, "samplehc/a.jsonl:3:0": usd,
        "samplehc/a.jsonl:4:0": (*billed, "INV-202610-c_ny"),
        "samplehc/a.jsonl:5:0": (*billed, "INV-202610-c_bhd"), "samplehc/a.jsonl:6:0": (*billed, "INV-202610-c_bhd"),
    }
    assert totals(r.con) == {"INV-202610-c_ny": Decimal("1.20"), "INV-202610-c_bhd": Decimal("12499999999999999999.875")}
    assert r.con.sql("SELECT quantity FROM invoice_lines WHERE invoice_id = 'INV-202610-c_bhd'").fetchall() == [
        (Decimal(BIG),)]
    assert r.con.sql("SELECT records, billed, quarantined FROM reconciliation WHERE source = 'samplehc'"
                     ).fetchall() == [(6, 3, 3)]
    assert r.con.sql("SELECT count(*) FROM quarantine WHERE reason = 'invalid_value'").fetchall() == [(3,)]
    assert published(tmp_path) == tables(r.con)


def test_a_line_amount_or_a_total_that_does_not_fit_holds_its_invoice(tmp_path):
    def event(key: str, customer: str, quantity: int, price: str | None = None) -> dict:
        prop = {"billableMetricId": "tokens", "quantity": quantity, **({"price": price} if price else {})}
        return {"idempotencyKey": key, "customerId": customer, "merchantId": "m1",
                "timestamp": "2026-10-05T12:00:00Z", "properties": [prop]}

    # One batch line: its records land on three invoices.
    write_dump(tmp_path / "raw", "paygentic/a.jsonl", [envelope({"events": [
        event("a", "cust-usd", BIG, "1000000000000000"),  # BIG × 10^15 ≈ 10^35: the line's amount
        event("b", "cust-bhd", BIG, "50000000000000"),    # 4999999999999999999950000000000000 fits, and
        event("c", "cust-bhd", BIG, "50000000000001"),    # 5000000000000099999949999999999999 fits: the total not
        event("d", "cust-eur", 100),                      # 100 × 0.002 = 0.20 EUR
    ]})])

    r = run(tmp_path)

    bhd = held("INV-202610-c_bhd", "the total does not fit DECIMAL(38, 4)")
    assert outcomes(r.con) == {
        "paygentic/a.jsonl:1:0": held("INV-202610-c_usd", "the amount of tokens does not fit DECIMAL(38, 4)"),
        "paygentic/a.jsonl:1:1": bhd, "paygentic/a.jsonl:1:2": bhd,
        "paygentic/a.jsonl:1:3": ("billed", None, None, "INV-202610-c_eur"),
    }
    assert totals(r.con) == {"INV-202610-c_eur": Decimal("0.20")}
    assert published(tmp_path) == tables(r.con)


def test_a_max_meter_of_large_values_is_billed_though_their_sum_would_not_fit(tmp_path):
    """storage_peak takes the month's max (USD 2): two readings of 6 × 10^19 bill 1.2 × 10^20."""
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [
        claim(60000000000000000000, 1, slug="storage"), claim(60000000000000000000, 2, slug="storage")])

    r = run(tmp_path)

    assert totals(r.con) == {"INV-202610-c_usd": Decimal("120000000000000000000.00")}
    assert {o[0] for o in outcomes(r.con).values()} == {"billed"}


def test_later_records_hold_a_billed_month_and_release_it_as_a_run_from_scratch_would(tmp_path):
    raw = tmp_path / "raw"
    write_dump(raw, "tula/a.jsonl", [visit(1, BIG, 1)])
    first = run(tmp_path)
    assert totals(first.con) == {"INV-202610-c_ny": Decimal("999999999999999999990.00")}
    first.con.close()

    # A second visit of 1: the month's BIG + 1 visits do not fit; the first visit, not in this load, is held too.
    write_dump(raw, "tula/b.jsonl", [visit(2, 1, 2)])
    second = run(tmp_path)
    ny = held("INV-202610-c_ny", HELD_QUANTITY.format("visits"))
    assert outcomes(second.con) == {"tula/a.jsonl:1:0": ny, "tula/b.jsonl:1:0": ny}
    assert totals(second.con) == {}
    assert published(tmp_path) == tables(second.con) == _from_scratch(tmp_path, "second")
    second.con.close()

    # A later version of the second visit, of 0 visits: the month fits again, and the first visit is billed.
    write_dump(raw, "tula/c.jsonl", [visit(2, 0, 3, modified="2026-10-04T10:00:00Z")])
    third = run(tmp_path)
    assert outcomes(third.con) == {
        "tula/a.jsonl:1:0": ("billed", None, None, "INV-202610-c_ny"),
        "tula/b.jsonl:1:0": ("superseded", None, third.con.sql(
            "SELECT detail FROM usage_events WHERE record_id = 'tula/b.jsonl:1:0'").fetchall()[0][0], None),
        "tula/c.jsonl:1:0": ("billed", None, None, "INV-202610-c_ny"),
    }
    assert totals(third.con) == {"INV-202610-c_ny": Decimal("999999999999999999990.00")}
    assert published(tmp_path) == tables(third.con) == _from_scratch(tmp_path, "third")


def _from_scratch(tmp_path: Path, name: str) -> dict[str, list]:
    """The analyst tables of a run over the same dumps into an empty warehouse."""
    scratch = tmp_path / f"scratch-{name}"
    shutil.copytree(tmp_path / "raw", scratch / "raw")
    result = run(scratch)
    try:
        return tables(result.con)
    finally:
        result.con.close()


def test_an_issued_month_that_later_records_hold_gets_a_draft_credit_note_of_what_was_issued(tmp_path):
    """SPEC §7 as it stands: the recomputed month has no invoice, so the adjustment credits the issued one."""
    write_reference(tmp_path / "reference", {"issuer.csv": "name,address,tax_id,number_prefix,payment_terms_days\n"
                                                           "Tally Test Ltd.,1 Main Street,TT-123,TLY,30\n"})
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [claim(BIG, 1)])  # BIG × 0.50 = 49999999999999999999.50
    run(tmp_path, close=(date(2026, 10, 1), date(2026, 11, 5))).con.close()

    write_dump(tmp_path / "raw", "samplehc/b.jsonl", [claim(1, 2)])
    r = run(tmp_path)

    assert r.con.sql("SELECT document_number, kind, status, total, corrects FROM documents ORDER BY 1").fetchall() == [
        ("ADJ-202610-c_usd", "credit_note", "draft", Decimal("-49999999999999999999.50"), "TLY-2026-000001"),
        ("TLY-2026-000001", "invoice", "issued", Decimal("49999999999999999999.50"), None),
    ]
    assert r.con.sql("SELECT quantity, amount, event_count FROM document_lines "
                     "WHERE document_number = 'ADJ-202610-c_usd'").fetchall() == [
        (Decimal(-BIG), Decimal("-49999999999999999999.50"), -1)]


def test_billed_usage_by_metric_shows_a_sum_over_customers_that_does_not_fit_as_null(tmp_path):
    """Each customer's month fits; the analyst view's sum over customers of BIG + BIG claims does not."""
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [claim(BIG, 1), claim(BIG, 2, account="org_ny")])
    run(tmp_path).con.close()

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("SELECT metric_id, customers, quantity, amount, typeof(quantity), typeof(amount) "
                       "FROM billed_usage_by_metric").fetchall()
    # 49999999999999999999.50 (c_usd, 0.50) + 39999999999999999999.60 (c_ny, 0.40)
    assert rows == [("claims", 2, None, Decimal("89999999999999999999.10"), "DECIMAL(38,18)", "DECIMAL(38,4)")]
