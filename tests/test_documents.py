"""Invoice documents and the marts' charts: exact formatting of money, quantities and prices, escaping,
the document of a real invoice, the `marts/invoice_documents` asset's folders, and the markdown charts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from harness import REFERENCE, envelope, run, write_dump, write_reference
from markupsafe import escape

from dagster_project import build_definitions
from dagster_project.metadata import (
    BAR_WIDTH,
    bar,
    billed_per_month_chart,
    outcome_counts,
    outcomes_chart,
)
from dagster_project.resources import TallyWarehouse
from transforms.marts.document_files import replace_month
from transforms.marts.documents import (
    InvoiceNotFound,
    invoice_document,
    invoice_html,
    month_documents,
)
from transforms.marts.formatting import (
    format_money,
    format_period,
    format_plain,
    format_quantity,
    format_unit_price,
)

D = Decimal

# ---------------------------------------------------------------------------------------------------
# Formatting


@pytest.mark.parametrize("amount, currency, text", [
    (D("1234.5"), "USD", "1,234.50 USD"),
    (D("1234.5000"), "USD", "1,234.50 USD"),  # DECIMAL(38, 4) as stored
    (D("0.0000"), "USD", "0.00 USD"),
    (D("-0.00"), "EUR", "0.00 EUR"),
    (D("7"), "EUR", "7.00 EUR"),
    (D("1235"), "JPY", "1,235 JPY"),
    (D("1235.0000"), "JPY", "1,235 JPY"),
    (D("0"), "JPY", "0 JPY"),
    (D("12.125"), "BHD", "12.125 BHD"),
    (D("1234.5"), "BHD", "1,234.500 BHD"),
    (D("0.1234"), "CLF", "0.1234 CLF"),
    (D("12345678901234567890123456789012.1200"), "USD", "12,345,678,901,234,567,890,123,456,789,012.12 USD"),
    (D("999999999999999999"), "KRW", "999,999,999,999,999,999 KRW"),
    (D("-1234.56"), "USD", "-1,234.56 USD"),
])
def test_format_money(amount, currency, text):
    assert format_money(amount, currency) == text


@pytest.mark.parametrize("amount, currency", [(D("1.005"), "USD"), (D("0.5"), "JPY"), (D("0.0001"), "BHD")])
def test_format_money_never_rounds(amount, currency):
    """Amounts are rounded where they are computed; a document never shows a different number."""
    with pytest.raises(ValueError, match="decimal places"):
        format_money(amount, currency)


def test_formatting_refuses_floats_and_unknown_currencies():
    with pytest.raises(TypeError):
        format_money(1.5, "USD")
    with pytest.raises(TypeError):
        format_quantity(0.1)
    with pytest.raises(ValueError, match="unknown currency"):
        format_money(D(1), "XXX")
    with pytest.raises(ValueError):
        format_money(D("NaN"), "USD")


@pytest.mark.parametrize("price, currency, text", [
    (D("0.500000000000000000"), "USD", "0.50 USD"),
    (D("4"), "USD", "4.00 USD"),
    (D("0.0025"), "USD", "0.0025 USD"),
    (D("0.000000000000000001"), "USD", "0.000000000000000001 USD"),
    (D("12345678901234567890.123456789012345678"), "USD", "12,345,678,901,234,567,890.123456789012345678 USD"),
    (D("1500"), "JPY", "1,500 JPY"),
    (D("12.5"), "JPY", "12.5 JPY"),
    (D("0.0005"), "BHD", "0.0005 BHD"),
    (D("0.1"), "BHD", "0.100 BHD"),
])
def test_format_unit_price_keeps_every_significant_digit(price, currency, text):
    assert format_unit_price(price, currency) == text


@pytest.mark.parametrize("quantity, text", [
    (D("2.500000000000000000"), "2.5"),
    (D("1500000.000000000000000000"), "1,500,000"),
    (D("0E-18"), "0"),
    (D("0.000000000000000001"), "0.000000000000000001"),
    (D("12345678901234567890.123456789012345678"), "12,345,678,901,234,567,890.123456789012345678"),
    (7, "7"),
])
def test_format_quantity_without_trailing_zeros(quantity, text):
    assert format_quantity(quantity) == text


@pytest.mark.parametrize("number, text", [
    (D("2.500000000000000000"), "2.5"),
    (D("1500000.000000000000000000"), "1500000"),
    (D("0E-18"), "0"),
    (D("-0.0000"), "0"),
    (D("1E+3"), "1000"),
    (D("12345678901234567890.123456789012345678"), "12345678901234567890.123456789012345678"),
])
def test_format_plain_is_every_significant_digit_for_programs(number, text):
    assert format_plain(number) == text


def test_format_period_is_first_to_last_day():
    assert format_period(date(2026, 10, 1), date(2026, 11, 1)) == "1 October 2026 – 31 October 2026"
    assert format_period(date(2028, 2, 1), date(2028, 3, 1)) == "1 February 2028 – 29 February 2028"
    assert format_period(date(2026, 12, 1), date(2027, 1, 1)) == "1 December 2026 – 31 December 2026"


# ---------------------------------------------------------------------------------------------------
# Documents


class _Cells(HTMLParser):
    """Text of each row of each table section: {"thead": [...], "tbody": [...], "tfoot": [...]}."""

    def __init__(self, html: str):
        super().__init__()
        self.sections: dict[str, list[list[str]]] = {"thead": [], "tbody": [], "tfoot": []}
        self._section = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in self.sections:
            self._section = tag
        elif tag == "tr" and self._section:
            self.sections[self._section].append([])
        elif tag in ("td", "th") and self._section:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.sections[self._section][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag in self.sections:
            self._section = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _invoice(**overrides) -> tuple[dict, list[dict]]:
    lines = [
        {"metric_id": "claims", "aggregation": "sum", "quantity": D("1234.5"), "unit_price": D("0.5"),
         "amount": D("617.25"), "event_count": 1200, "currency": "USD"},
        {"metric_id": "pings", "aggregation": "count", "quantity": D("3"), "unit_price": D("0.0025"),
         "amount": D("0.01"), "event_count": 3, "currency": "USD"},
    ]
    invoice = {"invoice_id": "INV-202610-c_usd", "customer_id": "c_usd", "period_start": date(2026, 10, 1),
               "period_end": date(2026, 11, 1), "currency": "USD", "total": D("617.26"), "line_count": 2,
               "event_count": 1203, **overrides}
    return invoice, lines


def test_document_shows_every_line_and_the_total():
    invoice, lines = _invoice()
    html = invoice_document(invoice, lines, "USD Corp", timezone="America/New_York", issuer="Acme Billing")
    cells = _Cells(html)
    assert cells.sections["thead"] == [["Metric", "Events", "Quantity", "Unit price", "Amount"]]
    assert cells.sections["tbody"] == [
        ["claims", "1,200", "1,234.5", "0.50 USD", "617.25 USD"],
        ["pings events counted", "3", "3", "0.0025 USD", "0.01 USD"],
    ]
    assert cells.sections["tfoot"] == [["Total", "617.26 USD"]]
    for text in ("Acme Billing", "USD Corp", "c_usd", "INV-202610-c_usd", "1 October 2026 – 31 October 2026",
                 "America/New_York", "@page", "size: A4", "table-header-group"):
        assert text in html


def test_document_escapes_names_and_ids():
    invoice, lines = _invoice(customer_id="<c&o>")
    html = invoice_document(invoice, lines, 'Smith <&> "Sons" <script>alert(1)</script>')
    assert "Smith &lt;&amp;&gt; &#34;Sons&#34; &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;c&amp;o&gt;" in html
    assert "<script>" not in html and "<c&o>" not in html


def test_document_without_a_name_shows_the_customer_id():
    invoice, lines = _invoice()
    assert '<strong id="customer-name">c_usd</strong>' in invoice_document(invoice, lines)


def test_document_refuses_a_total_that_is_not_the_sum_of_its_lines():
    invoice, lines = _invoice(total=D("617.27"))
    with pytest.raises(ValueError, match="sum of the line amounts"):
        invoice_document(invoice, lines, "USD Corp")
    invoice, lines = _invoice()
    lines[0]["currency"] = "EUR"
    with pytest.raises(ValueError, match="currency"):
        invoice_document(invoice, lines, "USD Corp")


def october_dumps(raw: Path) -> None:
    """Billed usage of three customers in October 2026 (and one record in September)."""
    write_dump(raw, "samplehc/2026-10.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 3, "occurredAt": "2026-10-05T12:00:00Z"}, account="org_usd"),
        envelope({"eventSlug": "claim-check", "quantity": 2, "occurredAt": "2026-09-10T12:00:00Z"}, account="org_usd"),
    ])
    write_dump(raw, "sequence/2026-10.jsonl", [
        envelope({"customerAlias": "alias-usd", "eventType": "message-sent", "eventTimestamp": "2026-10-07T00:00:00Z",
                  "eventProperties": {"length": 1234567}}),
    ])
    write_dump(raw, "tula/2026-10.jsonl", [
        envelope({"billingEventGuid": "5d8e2f4a-1b3c-4d5e-8f90-a1b2c3d4e5f6", "eventDateTime": "2026-10-03T10:00:00+09:00",
                  "eventTypeId": "Visit", "quantity": 2}, path="/api/v1/BillingEvents/clinic-jpy"),
        envelope({"billingEventGuid": "3f2b6c1e-8d4a-4b7e-9c21-5a0d7e6f4b12", "eventDateTime": "2026-10-04T10:00:00+09:00",
                  "eventTypeId": "Visit", "quantity": 3, "price": 12.5}, path="/api/v1/BillingEvents/clinic-jpy"),
    ])
    write_dump(raw, "paygentic/2026-10.jsonl", [
        envelope({"events": [{"idempotencyKey": "p-1", "customerId": "cust-bhd", "merchantId": "m-1",
                              "timestamp": "2026-10-10T00:00:00Z",
                              "properties": [{"billableMetricId": "tokens", "quantity": 2001},
                                             {"billableMetricId": "requests", "quantity": 12345}]}]}),
    ])


# invoice id -> (customer name, lines as shown, total as shown)
EXPECTED_DOCUMENTS = {
    "INV-202610-c_usd": ("Smith <&> Sons", [
        ["characters", "1", "1,234,567", "0.001 USD", "1,234.57 USD"],  # 1,234.567 half-even
        ["claims", "1", "3", "0.50 USD", "1.50 USD"],
    ], "1,236.07 USD"),
    "INV-202610-c_jpy": ("Tokyo KK", [
        ["visits", "1", "3", "12.5 JPY", "38 JPY"],  # 37.5 half-even
        ["visits", "1", "2", "1,500 JPY", "3,000 JPY"],
    ], "3,038 JPY"),
    "INV-202610-c_bhd": ("Manama WLL", [
        ["requests", "1", "12,345", "0.100 BHD", "1,234.500 BHD"],
        ["tokens", "1", "2,001", "0.0005 BHD", "1.000 BHD"],  # 1.0005 half-even
    ], "1,235.500 BHD"),
}


@pytest.fixture
def billed(tmp_path):
    october_dumps(tmp_path / "raw")
    customers = REFERENCE["customers.csv"].replace("c_usd,USD Corp,", "c_usd,Smith <&> Sons,")
    result = run(tmp_path, reference_dir=write_reference(tmp_path / "reference", {"customers.csv": customers}))
    yield result
    result.con.close()


def test_document_of_a_real_invoice(billed):
    assert set(billed.invoices()) == {*EXPECTED_DOCUMENTS, "INV-202609-c_usd"}
    for invoice_id, (name, rows, total) in EXPECTED_DOCUMENTS.items():
        html = invoice_html(billed.con, invoice_id)
        cells = _Cells(html)
        assert cells.sections["tbody"] == rows, invoice_id
        assert cells.sections["tfoot"] == [["Total", total]], invoice_id
        assert f'<strong id="customer-name">{escape(name)}</strong>' in html
        assert "1 October 2026 – 31 October 2026" in html
    assert "(Asia/Tokyo time)" in invoice_html(billed.con, "INV-202610-c_jpy")
    with pytest.raises(InvoiceNotFound):
        invoice_html(billed.con, "INV-209901-nobody")


def test_document_from_the_published_tables_alone(billed):
    """The published warehouse has no customer names: the id stands in, the numbers are the same."""
    published = duckdb.connect()
    for table in ("invoices", "invoice_lines"):
        published.register("frame", billed.table(table))
        published.execute(f"CREATE TABLE {table} AS SELECT * FROM frame")
        published.unregister("frame")
    html = invoice_html(published, "INV-202610-c_bhd")
    assert '<strong id="customer-name">c_bhd</strong>' in html
    assert _Cells(html).sections["tbody"] == EXPECTED_DOCUMENTS["INV-202610-c_bhd"][1]


def test_month_documents_and_index(billed):
    files = month_documents(billed.con, date(2026, 10, 1))
    assert set(files) == {f"{invoice_id}.html" for invoice_id in EXPECTED_DOCUMENTS} | {"index.html"}
    index = _Cells(files["index.html"])
    assert [row[0] for row in index.sections["tbody"]] == sorted(EXPECTED_DOCUMENTS)
    assert [row[-1] for row in index.sections["tbody"]] == [EXPECTED_DOCUMENTS[i][2] for i in sorted(EXPECTED_DOCUMENTS)]
    assert index.sections["tfoot"] == [["Total BHD", "1,235.500 BHD"], ["Total JPY", "3,038 JPY"],
                                       ["Total USD", "1,236.07 USD"]]
    for invoice_id in EXPECTED_DOCUMENTS:
        assert f'href="{invoice_id}.html"' in files["index.html"]
    assert month_documents(billed.con, date(2026, 8, 1)) == {}


# ---------------------------------------------------------------------------------------------------
# Folders and the Dagster asset


def test_replace_month_swaps_the_folder_whole(tmp_path):
    october = date(2026, 10, 1)
    folder = replace_month(tmp_path, october, {"a.html": "one", "index.html": "i"})
    assert folder == tmp_path / "2026-10"
    (tmp_path / ".2026-10.new-999").mkdir()  # left by a crashed run
    assert replace_month(tmp_path, october, {"b.html": "two", "index.html": "j"}) == folder
    assert sorted(p.name for p in folder.iterdir()) == ["b.html", "index.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-10"]
    assert replace_month(tmp_path, october, {}) is None
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        replace_month(tmp_path, october, {"../escape.html": "x"})


def test_replace_month_carries_kept_files_over_linked_or_copied(tmp_path, monkeypatch):
    october = date(2026, 10, 1)
    folder = replace_month(tmp_path, october, {"a.html": "one", "b.html": "two", "index.html": "i"})
    inode = (folder / "a.html").stat().st_ino
    replace_month(tmp_path, october, {"index.html": "j"}, keep=["a.html"])
    assert {p.name: p.read_text() for p in folder.iterdir()} == {"a.html": "one", "index.html": "j"}
    assert (folder / "a.html").stat().st_ino == inode  # the same file, not a copy
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-10"]

    def no_links(*args, **kwargs):
        raise OSError("no hard links here")

    monkeypatch.setattr("transforms.marts.document_files.os.link", no_links)
    replace_month(tmp_path, october, {"index.html": "k"}, keep=["a.html"])
    assert {p.name: p.read_text() for p in folder.iterdir()} == {"a.html": "one", "index.html": "k"}
    assert (folder / "a.html").stat().st_ino != inode
    with pytest.raises(ValueError):
        replace_month(tmp_path, october, {"index.html": "k"}, keep=["../a.html"])


def test_a_month_written_again_renders_only_the_invoices_that_changed(tmp_path):
    october_dumps(tmp_path / "raw")
    run(tmp_path).con.close()
    october = tmp_path / "invoices" / "2026-10"
    before = {p.name: p.stat().st_ino for p in october.iterdir()}
    assert set(before) == {f"{i}.html" for i in EXPECTED_DOCUMENTS} | {"index.html"}

    # One more October record of c_usd: its invoice changes, c_jpy's and c_bhd's do not.
    write_dump(tmp_path / "raw", "samplehc/2026-10-late.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 4, "occurredAt": "2026-10-20T12:00:00Z"}, account="org_usd")])
    run(tmp_path).con.close()
    after = {p.name: p.stat().st_ino for p in october.iterdir()}
    assert set(after) == set(before)
    assert after["INV-202610-c_jpy.html"] == before["INV-202610-c_jpy.html"]
    assert after["INV-202610-c_bhd.html"] == before["INV-202610-c_bhd.html"]
    assert after["INV-202610-c_usd.html"] != before["INV-202610-c_usd.html"]
    # 1,236.07 + 2.20 (4 claims at 0.55, the price from 15 October): the new total, on the page rendered
    # again and in the index.
    assert "1,238.27 USD" in (october / "INV-202610-c_usd.html").read_text(encoding="utf-8")
    assert "1,238.27 USD" in (october / "index.html").read_text(encoding="utf-8")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as published:
        expected = month_documents(published, date(2026, 10, 1))
    assert {p.name: p.read_text(encoding="utf-8") for p in october.iterdir()} == expected


def _documents(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_invoice_documents_asset(tmp_path):
    raw, docs = tmp_path / "raw", tmp_path / "docs"
    october_dumps(raw)
    warehouse = TallyWarehouse(raw_dir=str(raw), reference_dir=str(write_reference(tmp_path / "reference")),
                               db=str(tmp_path / "out" / "warehouse.duckdb"), documents_dir=str(docs))
    defs = build_definitions(warehouse)
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("load").execute_in_process(instance=instance).success
    assert not docs.exists(), "nothing was invoiced yet"
    invoice = defs.resolve_job_def("invoice")
    result = invoice.execute_in_process(instance=instance, tags={
        "dagster/asset_partition_range_start": "2026-09-01", "dagster/asset_partition_range_end": "2026-10-01"})
    assert result.success
    assert _documents(docs / "2026-10") == {f"{i}.html" for i in EXPECTED_DOCUMENTS} | {"index.html"}
    assert _documents(docs / "2026-09") == {"INV-202609-c_usd.html", "index.html"}
    assert _documents(docs) == {"2026-09", "2026-10", "manifest.json"}
    events = {(e.asset_key.to_user_string(), e.partition): e.materialization.metadata
              for e in result.get_asset_materialization_events()}
    documents = events[("publish/invoice_documents", None)]
    assert documents["dagster/row_count"].value == 4
    assert "2026-09" in documents["months_written"].value and "2026-10" in documents["months_written"].value
    assert events[("marts/invoices", "2026-10-01")]["dagster/row_count"].value == 3
    assert events[("marts/invoices", "2026-09-01")]["dagster/row_count"].value == 1

    # A file that is not the publication's, and a hidden folder left by a killed run: the month that does
    # not match its manifest entry is rendered again, the leftover removed; the other month stays as it was.
    (docs / "2026-10" / "INV-202610-gone.html").write_text("stale", encoding="utf-8")
    (docs / ".2026-09.new-999").mkdir()
    september = (docs / "2026-09" / "index.html").stat().st_mtime_ns
    result = invoice.execute_in_process(instance=instance, partition_key="2026-10-01")
    assert result.success
    assert _documents(docs / "2026-10") == {f"{i}.html" for i in EXPECTED_DOCUMENTS} | {"index.html"}
    assert (docs / "2026-09" / "index.html").stat().st_mtime_ns == september
    assert [p.name for p in docs.iterdir() if p.name.startswith(".")] == []
    [documents] = [e.materialization.metadata for e in result.get_asset_materialization_events()
                   if e.asset_key.to_user_string() == "publish/invoice_documents"]
    assert documents["leftovers_removed"].value == 1
    assert "2026-10" in documents["months_written"].value and "2026-09" not in documents["months_written"].value

    # The chart on marts/invoices covers every month in the table, not only the run's.
    [chart] = [e.materialization.metadata["billed_per_month"].value for e in result.get_asset_materialization_events()
               if e.asset_key.to_user_string() == "marts/invoices"]
    assert "| 2026-09 | 1 | 1.00 USD |" in chart
    assert "| 2026-10 | 1 | 1,236.07 USD |" in chart
    assert "| 2026-10 | 1 | 3,038 JPY |" in chart
    assert "| 2026-10 | 1 | 1,235.500 BHD |" in chart


# ---------------------------------------------------------------------------------------------------
# Charts


def test_bar_is_exact_to_an_eighth():
    assert bar(D("100"), D("100")) == "█" * BAR_WIDTH
    assert bar(D("50"), D("100"), width=4) == "██"
    assert bar(D("1"), D("16"), width=2) == "▏"  # exactly one eighth
    assert bar(D("0.0001"), D("1000000")) == "▏"  # not zero: never drawn as nothing
    assert bar(0, D("5")) == ""
    assert bar(D("3"), D("8"), width=1) == "▍"


def test_billed_per_month_chart_shows_exact_totals():
    rows = [
        (date(2026, 9, 1), "USD", D("12345678901234567.8900"), 3),
        (date(2026, 10, 1), "USD", D("0.0100"), 1),
        (date(2026, 10, 1), "JPY", D("3038.0000"), 2),
        (date(2026, 10, 1), "BHD", D("1235.5000"), 1),
    ]
    chart = billed_per_month_chart(rows)
    assert f"| 2026-09 | 3 | 12,345,678,901,234,567.89 USD | {'█' * BAR_WIDTH} |" in chart
    assert "| 2026-10 | 1 | 0.01 USD | ▏ |" in chart
    assert "| 2026-10 | 2 | 3,038 JPY |" in chart
    assert "| 2026-10 | 1 | 1,235.500 BHD |" in chart
    assert chart.index("**BHD**") < chart.index("**JPY**") < chart.index("**USD**")
    assert billed_per_month_chart([]) == "_no invoices_"


def test_outcomes_chart_and_counts():
    reconciliation = pl.DataFrame({
        "source": ["samplehc", "tula"], "records": [8, 3], "billed": [4, 3], "duplicate": [2, 0],
        "superseded": [0, 0], "voided": [0, 0], "rejected_by_vendor": [0, 0], "unmetered": [1, 0],
        "quarantined": [1, 0],
    })
    chart = outcomes_chart(reconciliation)
    assert "| **samplehc** | all | 8 | | |" in chart
    assert f"| | billed | 4 | 50.0 % | {'█' * (BAR_WIDTH // 2)} |" in chart
    assert "| | unmetered | 1 | 12.5 % | ███ |" in chart
    assert f"| | billed | 3 | 100.0 % | {'█' * BAR_WIDTH} |" in chart
    assert "| **all sources** | all | 11 | | |" in chart
    assert "| | billed | 7 | 63.6 % |" in chart
    assert "superseded" not in chart  # no records: left out
    assert {k: v.value for k, v in outcome_counts(reconciliation).items()} == {
        "records": 11, "billed": 7, "duplicate": 2, "superseded": 0, "voided": 0, "rejected_by_vendor": 0,
        "unmetered": 1, "quarantined": 1}
