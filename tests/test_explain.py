"""Lineage (issue part 1): `tally explain INVOICE_ID` and `tally explain FILE:LINE[:INDEX]`.

One `tally run` over dumps built here, with one record of every outcome, publishes a warehouse; the
explanations are read from it with `transforms.explain` and through the command line. The expected
numbers are worked out by hand from SPEC §2–4 and `harness.REFERENCE` (customer c_usd, USD, UTC):

    record                 outcome             why
    samplehc/2026-10.jsonl
      :1  claims 3          billed              key k-1, 0.50 (before 2026-10-15)
      :2  claims 5          duplicate           key k-1 again: :1 won
      :3  claims 2          billed              no key, 0.50
      :4  = :3              duplicate           identical line: re-delivery of :3
      :5  claims 1          duplicate           response idempotentReplay: true, no winner
      :6  ping              billed              pings, count, 0.01
      :7  claims 1          rejected_by_vendor  response status 500
      :8  scan              unmetered           no meter for samplehc scan
      :9  org_nobody        quarantined         unknown_customer; carries an Authorization header
      :10 (blank)           not a record
      :11 not json          quarantined         invalid_json
      :12 claims 4          billed              occurred 2026-10-20: 0.55
      :13 storage 7         billed              storage_peak, max
      :14 storage 9         billed              storage_peak, max
    tula/2026-10.jsonl (client "Clinic USD")
      :1  G1 visits 2       superseded          modified 10:00, :2 modified 11:00 wins
      :2  G1 visits 3       billed              10
      :3  G2 visits 1       superseded          :4 wins
      :4  G2 Cancelled      voided              status Cancelled voids
    paygentic/2026-10.jsonl
      :1:0 tokens 1000 + requests 2   billed    0.002 and 1
      :1:1 tokens 50                  rejected_by_vendor (207, failed index 1)

    INV-202610-c_usd: claims 0.50 ×5 = 2.50 (2 events), claims 0.55 ×4 = 2.20, pings 0.01 ×1 = 0.01,
    requests 1 ×2 = 2.00, storage_peak 2 × max 9 = 18.00 (2 events), tokens 0.002 ×1000 = 2.00,
    visits 10 ×3 = 30.00; total 56.71, 7 lines, 8 billed records.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import duckdb
import pytest
from harness import envelope, write_dump, write_reference
from test_cli import TALLY, clean_env, read_only, tally

from transforms.explain import (
    NotFound,
    RecordRef,
    explain_invoice,
    explain_record,
)

SH = "samplehc/2026-10.jsonl"
TU = "tula/2026-10.jsonl"
PG = "paygentic/2026-10.jsonl"
INVOICE = "INV-202610-c_usd"
SECRET = "sk_secret_explain_1"
G1 = "0f8a1c2e-1111-4a6e-8f7d-9b0c1e2a3d4f"
G2 = "0f8a1c2e-2222-4a6e-8f7d-9b0c1e2a3d4f"


def claim(quantity, minute: int, key: str | None = None, **fields) -> dict:
    headers = {"idempotency-key": key} if key else {}
    body = {"eventSlug": "claim-check", "quantity": quantity, **fields.pop("body", {})}
    return envelope(body, f"2026-10-02T10:{minute:02d}:00Z", account=fields.pop("account", "org_usd"),
                    **({"headers": headers} if headers else {}), **fields)


def visit(guid: str, quantity, modified: str, minute: int, **body) -> dict:
    return envelope({"billingEventGuid": guid, "eventDateTime": "2026-10-04T09:00:00Z", "eventTypeId": "Visit",
                     "quantity": quantity, "modifiedDateTime": modified, **body},
                    f"2026-10-05T12:{minute:02d}:00Z", path="/api/v1/BillingEvents/Clinic%20USD")


def build(folder):
    raw = folder / "raw"
    redelivered = claim(2, 3)
    write_dump(raw, SH, [
        claim(3, 1, key="k-1"),
        claim(5, 2, key="k-1"),
        redelivered,
        redelivered,
        claim(1, 5, key="k-9", response={"status": 200, "body": {"idempotentReplay": True}}),
        envelope({"eventSlug": "ping", "quantity": 1}, "2026-10-02T10:06:00Z", account="org_usd"),
        claim(1, 7, response={"status": 500, "body": {"error": "unavailable"}}),
        envelope({"eventSlug": "scan", "quantity": 1}, "2026-10-02T10:08:00Z", account="org_usd"),
        claim(6, 9, account="org_nobody", headers={"Authorization": f"Bearer {SECRET}"}),
        "   ",
        "not json",
        claim(4, 12, body={"occurredAt": "2026-10-20T08:00:00Z"}),
        envelope({"eventSlug": "storage", "quantity": 7}, "2026-10-02T10:13:00Z", account="org_usd"),
        envelope({"eventSlug": "storage", "quantity": 9}, "2026-10-02T10:14:00Z", account="org_usd"),
    ])
    write_dump(raw, TU, [
        visit(G1, 2, "2026-10-05T10:00:00Z", 1, invoiceBillingEventStatusId="Billable"),
        visit(G1, 3, "2026-10-05T11:00:00Z", 2),
        visit(G2, 1, "2026-10-05T10:00:00Z", 3),
        visit(G2, 1, "2026-10-05T11:00:00Z", 4, invoiceBillingEventStatusId="Cancelled"),
    ])
    write_dump(raw, PG, [envelope(
        {"events": [
            {"idempotencyKey": "p-1", "customerId": "cust-usd", "merchantId": "m1", "timestamp": "2026-10-05T12:00:00Z",
             "properties": [{"billableMetricId": "tokens", "quantity": 1000},
                            {"billableMetricId": "requests", "quantity": 2}]},
            {"idempotencyKey": "p-2", "customerId": "cust-usd", "merchantId": "m1", "timestamp": "2026-10-05T12:00:00Z",
             "properties": [{"billableMetricId": "tokens", "quantity": 50}]},
        ]},
        "2026-10-06T08:00:00Z", response={"status": 207, "body": {"failed": [{"index": 1}]}},
    )], gz=False)
    write_reference(folder / "reference")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain")
    build(folder)
    db = folder / "out" / "warehouse.duckdb"
    proc = tally("--raw-dir", str(folder / "raw"), "--reference-dir", str(folder / "reference"), "--db", str(db),
                 cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return db


@pytest.fixture
def con(warehouse):
    with read_only(warehouse) as connection:
        yield connection


def explain(db, *args: str):
    import subprocess

    return subprocess.run([str(TALLY), "explain", *args, "--db", str(db)], check=False, capture_output=True, text=True,
                          env=clean_env(), timeout=120)


# ---------------------------------------------------------------------------------------------------
# Invoices

EXPECTED_LINES = [  # metric, unit price, aggregation, quantity, amount, events, [(record, quantity, price source)]
    ("claims", "0.5", "sum", "5", "2.50", 2, [(f"{SH}:1:0", "3", "price_book"), (f"{SH}:3:0", "2", "price_book")]),
    ("claims", "0.55", "sum", "4", "2.20", 1, [(f"{SH}:12:0", "4", "price_book")]),
    ("pings", "0.01", "count", "1", "0.01", 1, [(f"{SH}:6:0", "1", "price_book")]),
    ("requests", "1", "sum", "2", "2.00", 1, [(f"{PG}:1:0", "2", "price_book")]),
    ("storage_peak", "2", "max", "9", "18.00", 2, [(f"{SH}:13:0", "7", "price_book"),
                                                  (f"{SH}:14:0", "9", "price_book")]),
    ("tokens", "0.002", "sum", "1000", "2.00", 1, [(f"{PG}:1:0", "1000", "price_book")]),
    ("visits", "10", "sum", "3", "30.00", 1, [(f"{TU}:2:0", "3", "price_book")]),
]


def test_invoice_lines_and_the_records_behind_them(con):
    e = explain_invoice(con, INVOICE)
    assert (e.customer_id, str(e.period_start), str(e.period_end), e.currency) == ("c_usd", "2026-10-01",
                                                                                   "2026-11-01", "USD")
    assert (e.total, e.line_count, e.event_count, e.records) == (Decimal("56.71"), 7, 8, 8)
    got = [(line.metric_id, line.unit_price, line.aggregation, line.quantity, line.amount, line.event_count,
            [(r["record_id"], r["quantity"], r["price_source"]) for r in line.shown.iter_rows(named=True)])
           for line in e.lines]
    expected = [(m, Decimal(p), a, Decimal(q), Decimal(amt), n, [(r, Decimal(rq), s) for r, rq, s in records])
                for m, p, a, q, amt, n, records in EXPECTED_LINES]
    assert got == expected
    for line in e.lines:  # recomputed from the records: the aggregate, the amount, the records
        assert line.recomputed_quantity == line.quantity and line.quantity_matches
        assert line.expected_amount == line.amount and line.amount_matches
        assert line.records == line.event_count and line.usage_lines == line.shown.height
        assert line.not_shown == 0
    assert e.lines_total == e.total and e.consistent


def test_invoice_limit_counts_what_it_leaves_out(con):
    e = explain_invoice(con, INVOICE, limit=1)
    claims = e.lines[0]
    assert [r["record_id"] for r in claims.shown.iter_rows(named=True)] == [f"{SH}:1:0"]
    assert (claims.usage_lines, claims.not_shown, claims.recomputed_quantity) == (2, 1, Decimal(5))
    assert explain_invoice(con, INVOICE, limit=None).lines[0].not_shown == 0


def edited_copy(warehouse, folder, statement: str):
    """A copy of the warehouse with ``statement`` applied: one that no run publishes."""
    import shutil

    copy = folder / "edited.duckdb"
    shutil.copyfile(warehouse, copy)
    with duckdb.connect(str(copy)) as writable:
        writable.execute(statement)
    return copy


def test_an_inconsistent_invoice_is_flagged(warehouse, tmp_path):
    """The explanation recomputes the numbers: an invoice line that no longer matches its records shows."""
    copy = edited_copy(warehouse, tmp_path,
                       "UPDATE invoice_lines SET quantity = 6 WHERE metric_id = 'claims' AND unit_price = 0.5")
    with read_only(copy) as connection:
        e = explain_invoice(connection, INVOICE)
    claims = e.lines[0]
    assert (claims.quantity, claims.recomputed_quantity, claims.quantity_matches) == (6, 5, False)
    assert not e.consistent
    proc = explain(copy, INVOICE)
    assert proc.returncode == 0
    assert re.search(r"quantity 6 = the sum of 2 usage lines \(sum\): 5 ✗ MISMATCH", proc.stdout), proc.stdout
    assert "does not match the records it was built from" in proc.stdout


def test_an_amount_with_more_digits_than_its_currency_is_shown_whole(warehouse, tmp_path):
    """Only a warehouse edited by hand holds one; the explanation shows it as stored and marks it."""
    copy = edited_copy(warehouse, tmp_path,
                       "UPDATE invoice_lines SET amount = 2.505 WHERE metric_id = 'claims' AND unit_price = 0.5")
    proc = explain(copy, INVOICE)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^  amount 2\.505 USD = 5 × 0\.50 USD = 2\.50 USD, rounded half-to-even to 2 decimals "
                     r"✗ MISMATCH$", proc.stdout, re.MULTILINE), proc.stdout
    assert re.search(r"^  total     56\.71 USD, the sum of the 7 line amounts ✗ MISMATCH$", proc.stdout, re.MULTILINE)


def test_explain_invoice_command(warehouse):
    proc = explain(warehouse, INVOICE, "--limit", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith(f"Invoice {INVOICE}\n"), out
    for pattern in [
        r"^  customer  c_usd$",
        r"^  period    2026-10-01 to 2026-11-01 \(exclusive\)$",
        r"^  total     56\.71 USD, the sum of the 7 line amounts ✓$",
        r"^  events    8 billed records ✓",
        r"^claims at 0\.50 USD per unit: 5 × 0\.50 USD = 2\.50 USD, 2 events$",
        r"^  quantity 5 = the sum of 2 usage lines \(sum\): 5 ✓$",
        r"^  amount 2\.50 USD = 5 × 0\.50 USD = 2\.50 USD, rounded half-to-even to 2 decimals ✓$",
        rf"^    {re.escape(SH)}:1:0\s+3\s+0\.50 USD\s+price_book$",
        r"^    … and 1 more usage line \(the first 1 are shown: --limit N or --all to see more\)$",
        r"^storage_peak at 2\.00 USD per unit: 9 × 2\.00 USD = 18\.00 USD, 2 events$",
        r"^  quantity 9 = the largest of 2 usage lines \(max\): 9 ✓$",
        r"^  quantity 1 = the count of 1 record \(count\): 1 ✓$",
        rf"^    {re.escape(PG)}:1:0 \(property 1\)\s+2\s+1\.00 USD\s+price_book$",
        r"^tokens at 0\.002 USD per unit: 1,000 × 0\.002 USD = 2\.00 USD, 1 event$",
        rf"^    {re.escape(TU)}:2:0\s+3\s+10\.00 USD\s+price_book$",
    ]:
        assert re.search(pattern, out, re.MULTILINE), f"{pattern!r} not in:\n{out}"
    assert f"{SH}:3:0" not in out, "--limit 1 shows one record per line"
    assert f"{SH}:3:0" in explain(warehouse, INVOICE, "--all").stdout


def test_explain_invoice_json(warehouse):
    proc = explain(warehouse, INVOICE, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["invoice_id"], data["total"], data["line_count"], data["event_count"]) == (INVOICE, "56.71", 7, 8)
    assert data["consistent"] is True
    storage = next(line for line in data["lines"] if line["metric_id"] == "storage_peak")
    assert (storage["quantity"], storage["amount"], storage["recomputed_quantity"]) == ("9", "18", "9")
    assert [(r["record_id"], r["quantity"]) for r in storage["shown"]] == [(f"{SH}:13:0", "7"), (f"{SH}:14:0", "9")]


# ---------------------------------------------------------------------------------------------------
# Records: one of every outcome


def test_billed_record(con):
    e = explain_record(con, RecordRef.parse(f"{SH}:1"))
    assert (str(e.record), e.outcome, e.reason, e.decided_by, e.invoice_ids) == (f"{SH}:1:0", "billed", None, None,
                                                                                 [INVOICE])
    assert e.dedup_key == '["org_usd","k-1"]'
    assert [(u["metric_id"], u["quantity"], u["unit_price"], u["price_source"])
            for u in e.usage.iter_rows(named=True)] == [("claims", Decimal(3), Decimal("0.5"), "price_book")]
    assert [(str(r.record), r.outcome, r.relation) for r in e.related] == [(f"{SH}:2:0", "duplicate", "decided by it")]
    assert e.why == ("Billed: a valid samplehc event of customer c_usd (key org_usd) that no other record repeats, "
                     "replaces or voids, priced from the price book, in the 2026-10 billing month: 1 usage line on "
                     f"invoice {INVOICE}.")


def test_billed_paygentic_event_with_two_usage_lines(con):
    e = explain_record(con, RecordRef.parse(f"{PG}:1:0"))
    assert (e.outcome, e.invoice_ids) == ("billed", [INVOICE])
    assert [(u["property_index"], u["metric_id"], u["quantity"], u["unit_price"])
            for u in e.usage.iter_rows(named=True)] == [(0, "tokens", Decimal(1000), Decimal("0.002")),
                                                         (1, "requests", Decimal(2), Decimal(1))]
    assert "2 usage lines on invoice INV-202610-c_usd" in e.why


def test_duplicate_of_a_reused_key_names_the_winner(con):
    e = explain_record(con, RecordRef.parse(f"{SH}:2"))
    assert (e.outcome, e.reason, e.detail) == ("duplicate", None, "idempotency key already used by an earlier record")
    assert (str(e.decided_by.record), e.decided_by.outcome) == (f"{SH}:1:0", "billed")
    assert e.invoice_ids == []
    assert e.why == (f"Duplicate: the earlier record {SH}:1:0 (billed) used the same idempotency key "
                     '["org_usd","k-1"], and the first record of a key stands: the vendor keeps the first event for '
                     "a reused key, whatever the new body says.")


def test_redelivery_names_the_identical_earlier_line(con):
    e = explain_record(con, RecordRef.parse(f"{SH}:4:0"))
    assert (e.outcome, str(e.decided_by.record), e.decided_by.outcome) == ("duplicate", f"{SH}:3:0", "billed")
    assert e.why == ("Duplicate: the line is equal, as JSON values (key order and number spelling aside), to the "
                     f"earlier line of {SH}:3:0 (billed) from the same source: the same capture delivered again, "
                     "which counts once.")


def test_vendor_declared_duplicate_without_a_winner_is_explained_by_its_reason(con):
    e = explain_record(con, RecordRef.parse(f"{SH}:5"))
    assert (e.outcome, e.decided_by, e.deciders, e.related) == ("duplicate", None, [], [])
    assert e.why == ("Duplicate: the captured response says idempotentReplay: true, so the vendor itself says this "
                     'request repeats an earlier one with the same idempotency key ["org_usd","k-9"]; such a record '
                     "is never billed and never counts as the first copy of its key, whether or not the earlier copy "
                     "is in the dumps.")


def test_superseded_version_names_the_winning_version(con):
    e = explain_record(con, RecordRef.parse(f"{TU}:1"))
    assert (e.outcome, str(e.decided_by.record), e.decided_by.outcome) == ("superseded", f"{TU}:2:0", "billed")
    assert e.version_key == f'["Clinic USD","{G1}"]'
    assert e.why == (f"Superseded: {TU}:2:0 (billed) is another version of the same event (version key "
                     f'["Clinic USD","{G1}"]); the version with the greatest modifiedDateTime wins (a missing one '
                     "counts as its receivedAt; ties go to the later in order), and only the winning version can be "
                     "billed.")
    winner = explain_record(con, RecordRef.parse(f"{TU}:2"))
    assert [(str(r.record), r.outcome, r.relation) for r in winner.related] == [(f"{TU}:1:0", "superseded",
                                                                                 "decided by it")]


def test_superseded_by_a_voided_version_and_the_voided_one(con):
    e = explain_record(con, RecordRef.parse(f"{TU}:3"))
    assert (e.outcome, str(e.decided_by.record), e.decided_by.outcome) == ("superseded", f"{TU}:4:0", "voided")
    voided = explain_record(con, RecordRef.parse(f"{TU}:4"))
    assert (voided.outcome, voided.status, voided.detail, voided.decided_by) == (
        "voided", "Cancelled", "status Cancelled voids the event", None)
    assert [(str(r.record), r.outcome) for r in voided.related] == [(f"{TU}:3:0", "superseded")]
    assert voided.why == ("Voided: it is the winning version of its event and its status Cancelled has the effect "
                          "void in statuses.csv, so the event is cancelled: neither it nor the versions it replaced "
                          "are billed.")


def test_rejected_by_vendor(con):
    for ref in (f"{SH}:7", f"{PG}:1:1"):
        e = explain_record(con, RecordRef.parse(ref))
        assert (e.outcome, e.reason, e.invoice_ids) == ("rejected_by_vendor", None, [])
        assert e.why.startswith("Rejected by the vendor: the captured response says the vendor did not record this "
                                "event"), e.why


def test_unmetered(con):
    e = explain_record(con, RecordRef.parse(f"{SH}:8"))
    assert (e.outcome, e.event_type) == ("unmetered", "scan")
    assert e.why == ("Unmetered: the record is valid, but there is no meter for samplehc event type scan in "
                     "meters.csv, so it is not billable; add a meter for (samplehc, scan) to meters.csv and run "
                     "tally again to bill such events.")


def test_quarantined_with_its_redacted_raw_line(con):
    e = explain_record(con, RecordRef.parse(f"{SH}:9"))
    assert (e.outcome, e.reason, e.detail) == ("quarantined", "unknown_customer",
                                               "customer key org_nobody is not in customer_keys.csv")
    assert e.why == ("Quarantined (unknown_customer): customer key org_nobody is not in customer_keys.csv. Add the "
                     "key to customer_keys.csv and run tally again to bill it.")
    assert json.loads(e.raw)["headers"]["Authorization"] == "[REDACTED]"
    assert SECRET not in e.raw
    bad = explain_record(con, RecordRef.parse(f"{SH}:11"))
    assert (bad.outcome, bad.reason, bad.raw) == ("quarantined", "invalid_json", "not json")


def test_explain_record_command(warehouse):
    proc = explain(warehouse, f"{SH}:2")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith(f"Record {SH}:2:0 (samplehc)\n"), out
    for pattern in [r"^  outcome\s+duplicate$", rf"^  won by\s+{re.escape(SH)}:1:0 \(billed\)$",
                    r'^  idempotency key\s+\["org_usd","k-1"\]$', r"^  why\s+Duplicate: the earlier record ",
                    rf"^    {re.escape(SH)}:1:0\s+billed\s+same idempotency key$",
                    r"^\s+0\s+claims\s+sum\s+5\s*$"]:
        assert re.search(pattern, out, re.MULTILINE), f"{pattern!r} not in:\n{out}"
    quarantined = explain(warehouse, f"{SH}:9:0")
    assert quarantined.returncode == 0
    assert "raw line (as stored, credentials redacted)" in quarantined.stdout
    assert '"[REDACTED]"' in quarantined.stdout and SECRET not in quarantined.stdout
    assert re.search(r"^  outcome\s+quarantined \(unknown_customer\)$", quarantined.stdout, re.MULTILINE)
    as_json = json.loads(explain(warehouse, f"{TU}:1", "--json").stdout)
    assert (as_json["outcome"], as_json["decided_by"]["record"]) == ("superseded", f"{TU}:2:0")


def test_a_path_with_the_raw_dir_in_front_is_found(con):
    assert str(explain_record(con, RecordRef.parse(f"data/raw/{SH}:6")).record) == f"{SH}:6:0"


# ---------------------------------------------------------------------------------------------------
# What is not there


@pytest.mark.parametrize("target, message, suggestions", [
    (f"{SH}:10", f"no record on line 10 of {SH}: line 10 is blank", [f"{SH}:9", f"{SH}:11"]),
    (f"{SH}:40", f"no record on line 40 of {SH}: the file's last record is on line 14", [f"{SH}:13", f"{SH}:14"]),
    (f"{PG}:1:5", f"line 1 of {PG} has no record 5: its records are 0 to 1", [f"{PG}:1:0", f"{PG}:1:1"]),
    ("samplehc/2026-11.jsonl:1", "no dump file samplehc/2026-11.jsonl in the warehouse", [f"{SH}:1:0"]),
])
def test_unknown_records_say_what_is_there(con, target, message, suggestions):
    with pytest.raises(NotFound) as raised:
        explain_record(con, RecordRef.parse(target))
    assert raised.value.message.startswith(message), raised.value.message
    assert raised.value.suggestions == suggestions


@pytest.mark.parametrize("target, suggestions", [
    ("INV-202609-c_usd", [INVOICE]),  # the customer's invoice of another month
    ("INV-202610-c_us", [INVOICE]),  # a typo
    ("c_usd", [INVOICE]),  # a customer id
])
def test_unknown_invoices_suggest_close_ids(con, target, suggestions):
    with pytest.raises(NotFound) as raised:
        explain_invoice(con, target)
    assert raised.value.message == f"no invoice {target} in the warehouse"
    assert raised.value.suggestions == suggestions
    assert "INV-<yyyymm>-<customer_id>" in raised.value.hint


def test_unknown_targets_exit_2_with_what_to_do(warehouse):
    proc = explain(warehouse, "INV-202610-c_us")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "tally explain: no invoice INV-202610-c_us in the warehouse",
        f"Did you mean: {INVOICE}?",
        "Invoice ids are INV-<yyyymm>-<customer_id> (1 invoice in this warehouse, e.g. INV-202610-c_usd)",
    ]
    blank = explain(warehouse, f"{SH}:10")
    assert blank.returncode == 2 and f"Did you mean: {SH}:9, {SH}:11?" in blank.stderr
    malformed = explain(warehouse, "nonsense")
    assert malformed.returncode == 2
    assert "a record is FILE:LINE[:INDEX], e.g. samplehc/2026-09.jsonl:12" in malformed.stderr
    bad_line = explain(warehouse, f"{SH}:0")
    assert bad_line.returncode == 2 and "expected FILE:LINE[:INDEX]" in bad_line.stderr
    assert "Traceback" not in proc.stderr + blank.stderr + malformed.stderr + bad_line.stderr


def test_no_warehouse_exits_1_and_says_to_run(tmp_path):
    proc = explain(tmp_path / "none.duckdb", INVOICE)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"tally explain: no warehouse at {tmp_path / 'none.duckdb'}",
                                        ("Run `tally run` to load the dumps and publish it, or point --db (or "
                                         "TALLY_DB) at the warehouse file.")]
