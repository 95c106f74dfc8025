"""The invoice lifecycle (SPEC §7): closing, numbers, issued documents that never change, adjustments.

Every figure below is worked out by hand from SPEC and ``harness.REFERENCE``: samplehc claim-check is
metric ``claims`` (sum), priced 0.50 USD until 2026-10-15 and 0.55 from then, 0.40 for c_ny; tula Visit is
``visits`` at 10 USD. org_usd / "Clinic USD" are c_usd (UTC), org_ny is c_ny (New York). The issuer's
prefix is TLY with 30 days to pay.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from dagster_project.cli import main
from dagster_project.runner import RunFailed
from harness import REFERENCE, envelope, run, write_dump, write_reference

ISSUER = ('name,address,tax_id,number_prefix,payment_terms_days\n'
          'Tally Test Ltd.,"1 Main Street\nSpringfield",TT-123,TLY,30\n')
SEPT, OCT, NOV, DEC = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)
D = Decimal


def reference(tmp_path: Path, **overrides: str) -> Path:
    return write_reference(tmp_path / "reference", {"issuer.csv": ISSUER, **overrides})


def claim(quantity, occurred: str, n: int, account: str = "org_usd") -> dict:
    return envelope({"eventSlug": "claim-check", "quantity": quantity, "occurredAt": occurred},
                    received_at=f"2026-12-01T00:{n // 60:02d}:{n % 60:02d}Z", account=account)


def visit(quantity, n: int, modified: str, status: str = "Billable") -> dict:
    body = {"billingEventGuid": "00000001-0000-4000-8000-00000000abcd", "eventDateTime": "2026-09-05T10:00:00Z",
            "eventTypeId": "Visit", "quantity": quantity, "modifiedDateTime": modified,
            "invoiceBillingEventStatusId": status}
    return envelope(body, received_at=f"2026-12-02T00:00:{n:02d}Z", path="/api/v1/BillingEvents/Clinic%20USD")


def go(tmp_path: Path, month: date | None = None, issued_on: str | None = None):
    """`tally run`, or `tally close month --issue-date issued_on`, on tmp_path's folders."""
    close = (month, date.fromisoformat(issued_on)) if month else None
    result = run(tmp_path, reference_dir=tmp_path / "reference", close=close)
    result.con.close()
    return published(tmp_path)


class Published:
    def __init__(self, db: Path) -> None:
        with duckdb.connect(str(db), read_only=True) as con:
            self.documents = {row[0]: row[1:] for row in con.sql(
                "SELECT document_number, kind, status, customer_id, period_start, total, corrects, issue_date, "
                "due_date FROM documents ORDER BY 1").fetchall()}
            self.full = con.sql("SELECT * FROM documents WHERE status = 'issued' ORDER BY document_number").fetchall()
            self.lines = {}
            for number, *line in con.sql("SELECT document_number, metric_id, unit_price, quantity, amount, event_count "
                                         "FROM document_lines ORDER BY ALL").fetchall():
                self.lines.setdefault(number, []).append(tuple(line))
            self.records = {}
            for number, record, change in con.sql(
                    "SELECT document_number, source_file || ':' || line_number || ':' || record_index, change "
                    "FROM document_line_records ORDER BY ALL").fetchall():
                self.records.setdefault(number, []).append((record, change))
            self.invoices = dict(con.sql("SELECT invoice_id, total FROM invoices").fetchall())


def cli_options(tmp_path: Path) -> list[str]:
    return ["--raw-dir", str(tmp_path / "raw"), "--reference-dir", str(tmp_path / "reference"),
            "--db", str(tmp_path / "warehouse.duckdb"), "--control-dir", str(tmp_path / "control")]


def published(tmp_path: Path) -> Published:
    return Published(tmp_path / "warehouse.duckdb")


def issued_files(tmp_path: Path) -> dict[str, bytes]:
    folder = tmp_path / "invoices" / "issued"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def test_a_late_file_becomes_a_debit_note_issued_by_the_next_close(tmp_path):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [
        claim(10, "2026-09-10T12:00:00Z", 1), claim(5, "2026-09-12T12:00:00Z", 2, account="org_ny")])
    p = go(tmp_path, SEPT, "2026-10-03")
    # invoices before notes, then customer_id: c_ny (5 x 0.40 = 2.00) before c_usd (10 x 0.50 = 5.00)
    assert p.documents == {
        "TLY-2026-000001": ("invoice", "issued", "c_ny", SEPT, D("2.00"), None, date(2026, 10, 3), date(2026, 11, 2)),
        "TLY-2026-000002": ("invoice", "issued", "c_usd", SEPT, D("5.00"), None, date(2026, 10, 3), date(2026, 11, 2)),
    }
    assert p.lines["TLY-2026-000002"] == [("claims", D("0.5"), D(10), D("5.00"), 1)]
    assert p.records["TLY-2026-000002"] == [("samplehc/a.jsonl:1:0", "billed")]
    files = issued_files(tmp_path)
    assert sorted(files) == ["TLY-2026-000001.pdf", "TLY-2026-000002.pdf", "documents.sha256"]
    for number, row in ((r[0], r) for r in p.full):
        assert hashlib.sha256(files[f"{number}.pdf"]).hexdigest() == row[11]

    write_dump(tmp_path / "raw", "samplehc/b.jsonl", [claim(4, "2026-09-20T12:00:00Z", 3)])
    p = go(tmp_path)
    assert p.invoices["INV-202609-c_usd"] == D("7.00")  # what September is worth now
    assert p.documents["ADJ-202609-c_usd"] == ("debit_note", "draft", "c_usd", SEPT, D("2.00"), "TLY-2026-000002",
                                               None, None)
    assert p.lines["ADJ-202609-c_usd"] == [("claims", D("0.5"), D(4), D("2.00"), 1)]
    assert p.records["ADJ-202609-c_usd"] == [("samplehc/b.jsonl:1:0", "added")]
    assert p.documents["TLY-2026-000002"][4] == D("5.00")  # the issued invoice did not change
    assert issued_files(tmp_path) == files

    p = go(tmp_path, OCT, "2026-11-03")  # October has no usage: the close issues the note alone
    assert p.documents["TLY-2026-000003"] == ("debit_note", "issued", "c_usd", SEPT, D("2.00"), "TLY-2026-000002",
                                              date(2026, 11, 3), date(2026, 12, 3))
    assert "ADJ-202609-c_usd" not in p.documents
    later = issued_files(tmp_path)
    assert {k: v for k, v in later.items() if k != "documents.sha256"} == {
        **{k: v for k, v in files.items() if k != "documents.sha256"}, "TLY-2026-000003.pdf": later["TLY-2026-000003.pdf"]}
    assert later["documents.sha256"].startswith(files["documents.sha256"])
    assert len(later["documents.sha256"].splitlines()) == 3

    # From an empty warehouse, over the same dumps, reference and control folder: the same documents.
    again = tmp_path / "again"
    for folder in ("raw", "reference", "control"):
        shutil.copytree(tmp_path / folder, again / folder)
    q = go(again)
    assert q.full == p.full and q.documents == p.documents and q.lines == p.lines
    assert issued_files(again) == later


def test_a_late_void_is_a_credit_note_and_a_late_version_a_debit_note(tmp_path):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "tula/a.jsonl", [visit(2, 1, "2026-09-05T10:00:00Z")])
    go(tmp_path, SEPT, "2026-10-02")  # 2 x 10 = 20.00

    write_dump(tmp_path / "raw", "tula/b.jsonl", [visit(3, 2, "2026-10-05T00:00:00Z")])
    p = go(tmp_path)  # the later version: 3 visits, 30.00
    assert p.documents["ADJ-202609-c_usd"][:6] == ("debit_note", "draft", "c_usd", SEPT, D("10.00"), "TLY-2026-000001")
    assert p.lines["ADJ-202609-c_usd"] == [("visits", D(10), D(1), D("10.00"), 0)]
    assert p.records["ADJ-202609-c_usd"] == [("tula/a.jsonl:1:0", "removed"), ("tula/b.jsonl:1:0", "added")]

    write_dump(tmp_path / "raw", "tula/c.jsonl", [visit(3, 3, "2026-10-06T00:00:00Z", status="Cancelled")])
    p = go(tmp_path)  # voided: September is worth nothing now
    assert "INV-202609-c_usd" not in p.invoices
    assert p.documents["ADJ-202609-c_usd"][:6] == ("credit_note", "draft", "c_usd", SEPT, D("-20.00"), "TLY-2026-000001")
    assert p.lines["ADJ-202609-c_usd"] == [("visits", D(10), D(-2), D("-20.00"), -1)]
    assert p.records["ADJ-202609-c_usd"] == [("tula/a.jsonl:1:0", "removed")]

    p = go(tmp_path, OCT, "2026-11-02")
    assert p.documents["TLY-2026-000002"][:6] == ("credit_note", "issued", "c_usd", SEPT, D("-20.00"), "TLY-2026-000001")
    assert not [n for n, d in p.documents.items() if d[1] == "draft"]


def test_a_price_edit_after_issue_is_corrected_by_a_note_and_the_issued_invoice_stays(tmp_path):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [claim(10, "2026-09-10T12:00:00Z", 1)])
    before = go(tmp_path, SEPT, "2026-10-03")
    prices = REFERENCE["prices.csv"].replace("claims,,USD,0.50,,2026-10-15", "claims,,USD,0.60,,2026-10-15")
    reference(tmp_path, **{"prices.csv": prices})
    p = go(tmp_path)
    assert p.invoices["INV-202609-c_usd"] == D("6.00")
    assert p.full == before.full  # issued: 5.00, as it was
    # the old price's line goes, the new price's comes: -5.00 + 6.00 = a debit note of 1.00
    assert p.documents["ADJ-202609-c_usd"][:6] == ("debit_note", "draft", "c_usd", SEPT, D("1.00"), "TLY-2026-000001")
    assert p.lines["ADJ-202609-c_usd"] == [("claims", D("0.5"), D(-10), D("-5.00"), -1),
                                           ("claims", D("0.6"), D(10), D("6.00"), 1)]
    assert sorted(p.records["ADJ-202609-c_usd"]) == [("samplehc/a.jsonl:1:0", "added"),
                                                     ("samplehc/a.jsonl:1:0", "removed")]

    # Reproduced from empty with the edited reference: the invoice as issued (the close's reference copy),
    # and the same pending note.
    again = tmp_path / "again"
    for folder in ("raw", "reference", "control"):
        shutil.copytree(tmp_path / folder, again / folder)
    q = go(again)
    assert q.full == p.full and q.documents == p.documents and q.lines == p.lines and q.records == p.records


def test_late_usage_of_a_customer_with_nothing_issued_is_an_ordinary_invoice(tmp_path):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [claim(10, "2026-09-10T12:00:00Z", 1)])
    go(tmp_path, SEPT, "2026-10-03")
    write_dump(tmp_path / "raw", "samplehc/b.jsonl", [claim(5, "2026-09-12T12:00:00Z", 2, account="org_ny")])
    p = go(tmp_path)
    assert p.documents["INV-202609-c_ny"] == ("invoice", "draft", "c_ny", SEPT, D("2.00"), None, None, None)
    p = go(tmp_path, OCT, "2026-11-02")
    assert p.documents["TLY-2026-000002"] == ("invoice", "issued", "c_ny", SEPT, D("2.00"), None,
                                              date(2026, 11, 2), date(2026, 12, 2))


def test_two_closes_on_one_day_and_what_a_close_refuses(tmp_path):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [
        claim(10, "2026-09-10T12:00:00Z", 1), claim(2, "2026-10-05T12:00:00Z", 2)])
    go(tmp_path, SEPT, "2026-11-05")
    p = go(tmp_path, OCT, "2026-11-05")
    assert {n: d[:5] for n, d in p.documents.items()} == {
        "TLY-2026-000001": ("invoice", "issued", "c_usd", SEPT, D("5.00")),
        "TLY-2026-000002": ("invoice", "issued", "c_usd", OCT, D("1.00")),
    }
    options = cli_options(tmp_path)
    assert main(["close", "2026-09", "--issue-date", "2026-11-06", *options]) == 2  # closed already
    assert main(["close", "2026-11", "--issue-date", "2026-11-04", *options]) == 2  # issue date goes back
    assert main(["close", "2026-08", "--issue-date", "2026-11-05", *options]) == 2  # numbered before October
    assert main(["close", "2026-11", "--issue-date", "2026-11-30", *options]) == 2  # November has not ended
    assert sorted(p.name for p in (tmp_path / "control").glob("*.json")) == ["close-2026-09.json", "close-2026-10.json"]
    with pytest.raises(RunFailed) as refused:  # the close job refuses it too (the UI, the schedule)
        go(tmp_path, SEPT, "2026-11-06")
    assert refused.value.refused and "closed already" in refused.value.problem
    assert published(tmp_path).documents == p.documents


def test_numbers_start_again_in_a_new_issue_year(tmp_path):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [
        claim(10, "2026-11-10T12:00:00Z", 1), claim(2, "2026-12-05T12:00:00Z", 2)])
    go(tmp_path, NOV, "2026-12-03")
    p = go(tmp_path, DEC, "2027-01-04")
    # claims at 0.55 from 2026-10-15: 10 x 0.55 = 5.50, 2 x 0.55 = 1.10
    assert p.documents == {
        "TLY-2026-000001": ("invoice", "issued", "c_usd", NOV, D("5.50"), None, date(2026, 12, 3), date(2027, 1, 2)),
        "TLY-2027-000001": ("invoice", "issued", "c_usd", DEC, D("1.10"), None, date(2027, 1, 4), date(2027, 2, 3)),
    }


def test_closing_needs_an_issuer(tmp_path):
    write_reference(tmp_path / "reference")
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [claim(10, "2026-09-10T12:00:00Z", 1)])
    options = cli_options(tmp_path)
    assert main(["close", "2026-09", "--issue-date", "2026-10-03", *options]) == 2
    assert not (tmp_path / "control").exists()


def test_a_month_is_not_closed_while_input_files_are_refused(tmp_path, capsys):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [claim(10, "2026-09-10T12:00:00Z", 1)])
    (tmp_path / "raw" / "samplehc" / "b.jsonl.gz").write_bytes(b"\x1f\x8b\x08 not a gzip stream")
    assert main(["close", "2026-09", "--issue-date", "2026-10-03", *cli_options(tmp_path)]) == 3
    assert "2026-09 was not closed: input files were refused" in capsys.readouterr().err
    assert not list((tmp_path / "control").glob("*.json"))
    assert published(tmp_path).documents == {"INV-202609-c_usd": ("invoice", "draft", "c_usd", SEPT, D("5.00"),
                                                                  None, None, None)}


def test_explain_and_status_show_the_documents(tmp_path, capsys):
    reference(tmp_path)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [claim(10, "2026-09-10T12:00:00Z", 1)])
    go(tmp_path, SEPT, "2026-10-03")
    write_dump(tmp_path / "raw", "samplehc/b.jsonl", [claim(4, "2026-09-20T12:00:00Z", 2)])
    go(tmp_path)
    db = ["--db", str(tmp_path / "warehouse.duckdb")]
    capsys.readouterr()
    assert main(["explain", "TLY-2026-000001", *db]) == 0
    out = capsys.readouterr().out
    assert "Invoice TLY-2026-000001 (issued)" in out and "due" in out and "2026-11-02" in out
    assert "samplehc/a.jsonl:1:0" in out and "billed on it" in out and "samplehc/b.jsonl" not in out
    assert main(["explain", "ADJ-202609-c_usd", *db]) == 0
    out = capsys.readouterr().out
    assert "Debit note ADJ-202609-c_usd (draft: issued by the next close)" in out
    assert "corrects" in out and "TLY-2026-000001" in out and "2.00 USD" in out
    assert "samplehc/b.jsonl:1:0" in out and "added since the last issue" in out and "samplehc/a.jsonl" not in out
    assert main(["explain", "TLY-2026-000002", *db]) == 2
    assert "no document TLY-2026-000002" in capsys.readouterr().err
    assert main(["status", *db]) == 0
    out = capsys.readouterr().out
    assert "Documents by month" in out and "closed" in out
    assert "last issued number of TLY in 2026: TLY-2026-000001 (1 issued)" in out
