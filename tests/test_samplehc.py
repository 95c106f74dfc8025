"""SPEC §2 samplehc: schema, idempotency, occurred time, customer, meters and exact invoice amounts."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from harness import envelope, run, write_dump, write_reference

FILE = "samplehc/a.jsonl"
B, D, U = ("billed", None), ("duplicate", None), ("unmetered", None)
SV = ("quarantined", "schema_violation")


def at(i: int, day: int = 3) -> str:
    """A distinct receivedAt per line, so that no two lines are re-deliveries of each other."""
    return f"2026-10-{day:02d}T12:{i // 60:02d}:{i % 60:02d}Z"


def shc(body: dict, received_at: str, account: str = "org_usd", **fields) -> dict:
    return envelope(body, received_at, account=account, **fields)


def by_line(r, file: str = FILE) -> list[tuple[str, str | None]]:
    return [v for k, v in sorted(r.outcomes().items()) if k[0] == file]


def totals(r) -> dict[tuple[str, str], Decimal]:
    return {(c, str(p)): t for c, p, t in r.con.sql(
        "SELECT customer_id, period_start, total FROM invoices").fetchall()}


def lines(r) -> dict[tuple[str, str, str], tuple]:
    """(customer, period, metric) -> (unit_price, quantity, amount, event_count)."""
    rows = r.con.sql(
        "SELECT customer_id, period_start, metric_id, unit_price, quantity, amount, event_count "
        "FROM invoice_lines").fetchall()
    result = {(c, str(p), m): (u, q, a, n) for c, p, m, u, q, a, n in rows}
    assert len(result) == len(rows), rows
    return result


SCHEMA_CASES = [
    ({"eventSlug": "claim-check", "quantity": 3}, B),
    ({"eventSlug": "claim-check", "quantity": 3.0}, B),           # an integer by value
    ({"eventSlug": "claim-check", "quantity": 0}, B),
    ({"eventSlug": "claim-check", "quantity": "3e0"}, SV),
    ({"eventSlug": "claim-check", "quantity": 3.5}, SV),
    ({"eventSlug": "claim-check", "quantity": 0.1}, SV),
    ({"eventSlug": "claim-check", "quantity": "3"}, SV),
    ({"eventSlug": "claim-check", "quantity": -1}, SV),           # minimum 0: a schema rule here
    ({"eventSlug": "claim-check", "quantity": -1.0}, SV),
    ({"eventSlug": "claim-check", "quantity": True}, SV),
    ({"eventSlug": "claim-check", "quantity": None}, SV),
    ({"eventSlug": "claim-check", "quantity": [3]}, SV),
    ({"eventSlug": "claim-check"}, SV),
    ({"quantity": 3}, SV),
    ({"eventSlug": "", "quantity": 3}, SV),
    ({"eventSlug": None, "quantity": 3}, SV),
    ({"eventSlug": 7, "quantity": 3}, SV),
    ({"eventSlug": "claim-check", "quantity": 3, "customerId": "org_usd"}, SV),   # additionalProperties
    ({"eventSlug": "claim-check", "quantity": 3, "EventSlug": "claim-check"}, SV),  # names are exact
    ({"eventSlug": "claim-check", "quantity": 3, "occurredAt": "2026-10-02"}, SV),
    ({"eventSlug": "claim-check", "quantity": 3, "occurredAt": "2026-10-02T10:00:00"}, SV),  # no offset
    ({"eventSlug": "claim-check", "quantity": 3, "occurredAt": "yesterday"}, SV),
    ({"eventSlug": "claim-check", "quantity": 3, "occurredAt": 1790000000}, SV),
    ({"eventSlug": "claim-check", "quantity": 3, "occurredAt": None}, SV),       # null is not absent
    ({"eventSlug": "claim-check", "quantity": 3, "workflowRunId": 12}, SV),
    ({"eventSlug": "claim-check", "quantity": 3, "workflowRunId": None}, SV),
    ({"eventSlug": "claim-check", "quantity": 3, "metadata": []}, SV),
    ({"eventSlug": "claim-check", "quantity": 3, "metadata": "x"}, SV),
    ({"eventSlug": "claim-check", "quantity": 3, "metadata": None}, SV),
    ({"eventSlug": "claim-check", "quantity": 5, "occurredAt": "2026-10-02t10:00:00.123456789z",
      "workflowRunId": "wf-1", "metadata": {"nested": {"a": [1, None]}, "k": "v"}}, B),
    ({"eventSlug": "claim-check", "quantity": 7, "metadata": {}, "workflowRunId": ""}, B),
]


def test_request_schema(tmp_path):
    write_dump(tmp_path / "raw", FILE, [shc(body, at(i)) for i, (body, _) in enumerate(SCHEMA_CASES)])
    # numbers spelled in ways json.dumps does not write
    write_dump(tmp_path / "raw", "samplehc/spelled.jsonl", [
        '{"receivedAt": "2026-10-03T13:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 2.50e1}}',
        '{"receivedAt": "2026-10-03T13:00:01Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 1E1}}',
        '{"receivedAt": "2026-10-03T13:00:02Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 25e-1}}',
        '{"receivedAt": "2026-10-03T13:00:03Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": -0}}',
        # DuckDB reads this as 0.0; what it spells, exactly (one significant digit), is not an integer
        '{"receivedAt": "2026-10-03T13:00:04Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 1e-400}}',
        # more than 15 significant digits, read by DuckDB as another number: quarantined, never rounded
        '{"receivedAt": "2026-10-03T13:00:05Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 1.0000000000000000000001}}',
        '{"receivedAt": "2026-10-03T13:00:06Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 123456789012345678.0}}',
    ])

    r = run(tmp_path)

    assert by_line(r) == [expected for _, expected in SCHEMA_CASES]
    assert by_line(r, "samplehc/spelled.jsonl") == [B, B, SV, B, SV] + [("quarantined", "invalid_value")] * 2
    # 3 + 3 + 0 + 5 + 7 + 25 + 10 + 0 = 53 claims at 0.50, 8 records
    assert lines(r) == {("c_usd", "2026-10-01", "claims"): (Decimal("0.50"), Decimal(53), Decimal("26.50"), 8)}
    details = r.con.sql("SELECT count(*) FROM quarantine WHERE detail IS NULL OR detail = ''").fetchall()[0][0]
    assert details == 0


def test_idempotency_key_per_account(tmp_path):
    def key(k, name="idempotency-key"):
        return {name: k}

    replay = {"status": 200, "body": {"billingEvent": {}, "idempotentReplay": True}}
    fresh = {"status": 200, "body": {"billingEvent": {}, "idempotentReplay": False}}
    claim = "claim-check"
    write_dump(tmp_path / "raw", FILE, [
        shc({"eventSlug": claim, "quantity": 1}, at(1), headers=key("k-1")),                        # 1 first
        shc({"eventSlug": claim, "quantity": 100, "workflowRunId": "w"}, at(2),
            headers=key("k-1", "Idempotency-Key")),                                                  # 2 other body
        shc({"eventSlug": "ping", "quantity": 1}, at(3), headers=key("k-1", "IDEMPOTENCY-KEY")),     # 3 other slug
        shc({"eventSlug": claim, "quantity": 2}, at(4), account="org_ny", headers=key("k-1")),      # 4 other account
        shc({"eventSlug": claim, "quantity": 4}, at(5)),                                             # 5 no key
        shc({"eventSlug": claim, "quantity": 4}, at(6)),                                             # 6 no key
        shc({"eventSlug": claim, "quantity": 8}, at(7), headers=key("k-2"), response=replay),       # 7 replay
        shc({"eventSlug": claim, "quantity": 16}, at(8), headers=key("k-2"), response=fresh),       # 8 first of k-2
        shc({"eventSlug": claim, "quantity": 32}, at(9), headers=key("k-2")),                       # 9
        shc({"eventSlug": claim, "quantity": 64}, at(10), response=replay),                         # 10 replay, no key
        shc({"eventSlug": claim, "quantity": 128}, at(11), headers=key("K-1")),                     # 11 values are exact
        shc({"eventSlug": "mystery", "quantity": 1}, at(12), headers=key("k-3")),                   # 12 stands at step 7
        shc({"eventSlug": claim, "quantity": 256}, at(13), headers=key("k-3")),                     # 13
        shc({"eventSlug": claim, "quantity": 1}, at(14), account="org_nobody", headers=key("k-4")),  # 14
        shc({"eventSlug": claim, "quantity": 1}, at(15), account="org_nobody", headers=key("k-4")),  # 15
        shc({"eventSlug": claim, "quantity": 512}, at(16), headers={"idempotency-key": "k-5", "Idempotency-Key-2": "x"}),
        shc({"eventSlug": claim, "quantity": 1024}, at(17), headers={"x-idempotency-key": "k-5"}),  # another header
    ])

    r = run(tmp_path)

    assert by_line(r) == [B, D, D, B, B, B, D, B, D, D, B, U, D,
                          ("quarantined", "unknown_customer"), D, B, B]
    # c_usd: 1 + 4 + 4 + 16 + 128 + 512 + 1024 = 1689 at 0.50; c_ny: 2 at its own 0.40
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("844.50"), ("c_ny", "2026-10-01"): Decimal("0.80")}
    assert r.con.sql("SELECT duplicate FROM reconciliation WHERE source = 'samplehc'").fetchall() == [(7,)]


def test_idempotency_first_copy_follows_order_not_file_order(tmp_path):
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [
        shc({"eventSlug": "claim-check", "quantity": 1}, "2026-10-03T12:00:00Z", headers={"idempotency-key": "k"})])
    write_dump(tmp_path / "raw", "samplehc/b.jsonl", [
        shc({"eventSlug": "claim-check", "quantity": 9}, "2026-10-03T11:59:59.999Z", headers={"idempotency-key": "k"})])

    r = run(tmp_path)

    assert r.outcomes() == {("samplehc/a.jsonl", 1, 0): D, ("samplehc/b.jsonl", 1, 0): B}
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("4.50")}


def test_occurred_is_occurred_at_else_received_at(tmp_path):
    body = lambda q, **kw: {"eventSlug": "claim-check", "quantity": q, **kw}  # noqa: E731
    write_dump(tmp_path / "raw", FILE, [
        shc(body(1, occurredAt="2026-09-30T23:00:00Z"), "2026-10-03T12:00:00Z"),            # September
        shc(body(2), "2026-10-20T00:00:00Z"),                                                 # receivedAt: 0.55
        shc(body(4, occurredAt="2026-10-15T01:00:00+02:00"), "2026-10-20T00:00:01Z"),       # Oct 14 UTC: 0.50
        shc(body(5, occurredAt="2026-11-01T03:00:00Z"), "2026-11-02T00:00:00Z", account="org_ny"),  # NY: Oct 31
        shc(body(7), "2026-10-31T15:30:00Z", account="org_jpy"),                            # Tokyo: Nov 1
        shc(body(3, occurredAt="2026-10-05T10:00:00Z"), "2026-10-05T10:00:00Z", account="org_bhd"),
    ])

    r = run(tmp_path)

    assert by_line(r) == [B] * 6
    assert totals(r) == {
        ("c_usd", "2026-09-01"): Decimal("0.50"),
        ("c_usd", "2026-10-01"): Decimal("3.10"),      # 2 × 0.55 + 4 × 0.50
        ("c_ny", "2026-10-01"): Decimal("2.00"),       # 5 × 0.40
        ("c_jpy", "2026-11-01"): Decimal("420"),       # 7 × 60
        ("c_bhd", "2026-10-01"): Decimal("0.375"),     # 3 × 0.125
    }
    occurred = dict(r.con.sql("SELECT line_number, occurred_at FROM usage_events").fetchall())
    assert occurred[1] == datetime(2026, 9, 30, 23, 0, tzinfo=timezone.utc)
    assert occurred[2] == datetime(2026, 10, 20, 0, 0, tzinfo=timezone.utc)
    assert occurred[3] == datetime(2026, 10, 14, 23, 0, tzinfo=timezone.utc)
    periods = {c: (s, e) for c, s, e in r.con.sql(
        "SELECT customer_id, period_start, period_end FROM invoices WHERE customer_id = 'c_jpy'").fetchall()}
    assert periods == {"c_jpy": (date(2026, 11, 1), date(2026, 12, 1))}


def test_unknown_customer_and_unmetered_slug(tmp_path):
    write_dump(tmp_path / "raw", FILE, [
        shc({"eventSlug": "claim-check", "quantity": 1}, at(1), account="org_nobody"),
        shc({"eventSlug": "claim-check", "quantity": 1}, at(2), account="ORG_USD"),
        shc({"eventSlug": "claim-check", "quantity": 1}, at(3), account="Clinic USD"),   # a tula key
        shc({"eventSlug": "mystery", "quantity": 1}, at(4), account="org_nobody"),       # customer first
        shc({"eventSlug": "mystery", "quantity": 1}, at(5)),
        shc({"eventSlug": "Claim-Check", "quantity": 1}, at(6)),
        shc({"eventSlug": "visits", "quantity": 1}, at(7)),                               # a metric id, not a slug
        shc({"eventSlug": "claim-check", "quantity": 3}, at(8)),
    ])

    r = run(tmp_path)

    uc = ("quarantined", "unknown_customer")
    assert by_line(r) == [uc, uc, uc, uc, U, U, U, B]
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("1.50")}
    counts = r.con.sql(
        "SELECT records, billed, unmetered, quarantined FROM reconciliation WHERE source = 'samplehc'").fetchall()
    assert counts == [(8, 1, 3, 4)]


def test_count_and_max_meters(tmp_path):
    write_dump(tmp_path / "raw", FILE, [
        shc({"eventSlug": "ping", "quantity": 5}, at(1)),
        shc({"eventSlug": "ping", "quantity": 7}, at(2)),
        shc({"eventSlug": "ping", "quantity": 0}, at(3)),
        shc({"eventSlug": "storage", "quantity": 10}, at(4)),
        shc({"eventSlug": "storage", "quantity": 25}, at(5)),
        shc({"eventSlug": "storage", "quantity": 7}, at(6)),
        shc({"eventSlug": "storage", "quantity": 4}, "2026-11-02T00:00:00Z"),
        shc({"eventSlug": "claim-check", "quantity": 0}, "2026-11-03T00:00:00Z"),
    ])

    r = run(tmp_path)

    assert by_line(r) == [B] * 8
    assert lines(r) == {
        ("c_usd", "2026-10-01", "pings"): (Decimal("0.01"), Decimal(3), Decimal("0.03"), 3),
        ("c_usd", "2026-10-01", "storage_peak"): (Decimal(2), Decimal(25), Decimal("50.00"), 3),
        ("c_usd", "2026-11-01", "storage_peak"): (Decimal(2), Decimal(4), Decimal("8.00"), 1),
        ("c_usd", "2026-11-01", "claims"): (Decimal("0.55"), Decimal(0), Decimal("0.00"), 1),
    }
    invoices = {str(p): (t, lc, ec) for p, t, lc, ec in r.con.sql(
        "SELECT period_start, total, line_count, event_count FROM invoices").fetchall()}
    assert invoices == {"2026-10-01": (Decimal("50.03"), 2, 6), "2026-11-01": (Decimal("8.00"), 2, 2)}


PRICES = """metric_id,customer_id,currency,unit_price,effective_from,effective_to
claims,,USD,0.125,,
claims,c_ny,USD,0.40,,
claims,,JPY,0.5,,
claims,,BHD,0.0125,,
"""


def test_exact_amounts_half_even_in_the_currency_minor_unit(tmp_path):
    reference = write_reference(tmp_path / "ref", overrides={"prices.csv": PRICES})
    claim = lambda q: {"eventSlug": "claim-check", "quantity": q}  # noqa: E731
    write_dump(tmp_path / "raw", FILE, [
        shc(claim(1), "2026-10-03T00:00:00Z"),                          # 0.125 -> 0.12
        shc(claim(3), "2026-11-03T00:00:00Z"),                          # 0.375 -> 0.38
        shc(claim(5), "2026-12-03T00:00:00Z"),                          # 0.625 -> 0.62
        shc(claim(5), "2026-10-03T00:00:00Z", account="org_jpy"),      # 2.5 JPY -> 2
        shc(claim(7), "2026-11-03T00:00:00Z", account="org_jpy"),      # 3.5 JPY -> 4
        shc(claim(1), "2026-10-03T00:00:00Z", account="org_bhd"),      # 0.0125 BHD -> 0.012
        shc(claim(3), "2026-11-03T00:00:00Z", account="org_bhd"),      # 0.0375 BHD -> 0.038
        shc(claim(12345678901234), "2026-10-03T00:00:00Z", account="org_ny"),
        shc(claim(1), "2027-01-03T00:00:00Z"),                          # one line of 2 × 0.125 = 0.25,
        shc(claim(1), "2027-01-04T00:00:00Z"),                          # not 2 × round(0.125) = 0.24
    ])

    r = run(tmp_path, reference_dir=reference)

    assert by_line(r) == [B] * 10
    assert totals(r) == {
        ("c_usd", "2026-10-01"): Decimal("0.12"),
        ("c_usd", "2026-11-01"): Decimal("0.38"),
        ("c_usd", "2026-12-01"): Decimal("0.62"),
        ("c_jpy", "2026-10-01"): Decimal("2"),
        ("c_jpy", "2026-11-01"): Decimal("4"),
        ("c_bhd", "2026-10-01"): Decimal("0.012"),
        ("c_bhd", "2026-11-01"): Decimal("0.038"),
        ("c_ny", "2026-10-01"): Decimal("4938271560493.60"),
        ("c_usd", "2027-01-01"): Decimal("0.25"),
    }
    # quantity and price stay exact on the line; only the amount is rounded
    assert lines(r)[("c_usd", "2027-01-01", "claims")] == (Decimal("0.125"), Decimal(2), Decimal("0.25"), 2)
    types = dict(r.con.sql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'invoice_lines'").fetchall())
    for column in ("unit_price", "quantity", "amount"):
        assert types[column].startswith("DECIMAL"), (column, types[column])


def test_no_price_book_row_is_no_price(tmp_path):
    reference = write_reference(tmp_path / "ref", overrides={"prices.csv": PRICES})
    write_dump(tmp_path / "raw", FILE, [
        shc({"eventSlug": "ping", "quantity": 1}, at(1)),
        shc({"eventSlug": "claim-check", "quantity": 2}, at(2)),
    ])

    r = run(tmp_path, reference_dir=reference)

    assert by_line(r) == [("quarantined", "no_price"), B]
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("0.25")}
