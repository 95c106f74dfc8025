"""The PDF of an issued document: the same bytes on every call and in any environment, the number and
"Page i of n" on every page, what a customer and an auditor read on it, and text beyond the font."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from transforms.lifecycle.render import issued_pdf

LONG_ADDRESS = ("Abteilung Rechnungswesen, Zentrale Verwaltung der Universitätskliniken\n"
                "Hauptstraße 123, Gebäude C, 4. Obergeschoss, Zimmer 4.17\n10115 Berlin\nGermany")


def invoice(**changes) -> dict:
    document = {
        "document_number": "TLY-2026-000001", "kind": "invoice", "issue_date": date(2026, 10, 2),
        "due_date": date(2026, 11, 1), "period_start": date(2026, 9, 1), "period_end": date(2026, 10, 1),
        "currency": "USD", "total": Decimal("1234.50"), "corrects": None,
        "issuer_name": "Tally Billing AG", "issuer_address": "Seestrasse 1\n8002 Zürich\nSwitzerland",
        "issuer_tax_id": "CHE-123.456.789 MWST", "customer_id": "globex",
        "customer_name": "Globex Klinikum GmbH", "customer_address": LONG_ADDRESS,
        "customer_tax_id": "DE123456789",
    }
    return {**document, **changes}


def line(metric_id: str, amount: str, *, quantity: str = "1", unit_price: str = "1", events: int = 1,
         tier: str | None = None) -> dict:
    return {"metric_id": metric_id, "kind": "usage", "tier": tier, "unit_price": Decimal(unit_price),
            "quantity": Decimal(quantity), "amount": Decimal(amount), "event_count": events}


USD_LINES = [line("claims_checked", "1000.00", quantity="2000", unit_price="0.50", events=2000),
             line("eligibility_checks", "234.50", quantity="469", unit_price="0.5", events=469, tier="standard")]


def many_lines(count: int = 300) -> list[dict]:
    return [line(f"metric_{i:03d}", "4.00", quantity="8", unit_price="0.50", events=8) for i in range(count)]


def pages(pdf: bytes) -> list[str]:
    """The text of each page, with runs of white space made one space."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(pdf)).pages]


def text(pdf: bytes) -> str:
    return " ".join(pages(pdf))


def test_same_bytes_on_every_call_and_in_another_environment(tmp_path):
    document, lines = invoice(total=Decimal(1200)), many_lines()
    first = issued_pdf(document, lines)
    assert first.startswith(b"%PDF-") and issued_pdf(document, lines) == first

    script = ("import sys; from test_issued_pdf import invoice, many_lines; from decimal import Decimal; "
              "from transforms.lifecycle.render import issued_pdf; "
              "sys.stdout.buffer.write(issued_pdf(invoice(total=Decimal(1200)), many_lines()))")
    env = {**os.environ, "TZ": "Pacific/Kiritimati", "LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8",
           "PYTHONPATH": str(Path(__file__).parent), "PYTHONHASHSEED": "12345",
           "RL_invariant": "0", "RL_pageCompression": "1", "RL_pdfComments": "1", "RL_ttfAsciiReadable": "0"}
    other = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                           check=True).stdout
    assert other == first


def test_the_number_and_page_i_of_n_on_every_page_and_the_header_repeated():
    pdf = issued_pdf(invoice(total=Decimal(1200)), many_lines())
    texts = pages(pdf)
    count = len(texts)
    assert count >= 5
    for number, page in enumerate(texts, 1):
        assert "TLY-2026-000001" in page
        assert f"Page {number} of {count}" in page
        assert "Metric Quantity Unit price Amount" in page
    assert f"Page {count + 1} of" not in text(pdf)
    shown = [word for word in text(pdf).split() if word.startswith("metric_")]
    assert shown == [f"metric_{i:03d}" for i in range(300)]
    assert "Total 1,200.00 USD" in texts[-1]


def test_an_invoice_shows_issuer_customer_dates_lines_and_total():
    shown = text(issued_pdf(invoice(), USD_LINES))
    assert shown.startswith("Invoice ")
    for expected in ("Tally Billing AG", "Seestrasse 1 8002 Zürich Switzerland", "Tax ID: CHE-123.456.789 MWST",
                     "Globex Klinikum GmbH", "Customer ID: globex", "Tax ID: DE123456789",
                     "Number TLY-2026-000001", "Issue date 2026-10-02", "Due date 2026-11-01",
                     "Service period 2026-09-01 – 2026-09-30",
                     "claims_checked · usage 2,000 events 2,000 0.50 USD 1,000.00 USD",
                     "eligibility_checks · usage · standard 469 events 469 0.50 USD 234.50 USD",
                     "Total 1,234.50 USD"):
        assert expected in shown
    assert "Corrects" not in shown
    assert "2026-10-01" not in shown


def test_a_period_ending_with_the_year_and_no_optional_fields():
    document = invoice(period_start=date(2026, 12, 1), period_end=date(2027, 1, 1), issuer_address=None,
                       issuer_tax_id=None, customer_address=None, customer_tax_id=None)
    shown = text(issued_pdf(document, USD_LINES))
    assert "Service period 2026-12-01 – 2026-12-31" in shown
    assert "Tax ID" not in shown and "None" not in shown


@pytest.mark.parametrize(("currency", "price", "quantity", "amount", "shown_line", "shown_total"), [
    ("JPY", "70", "17", "1190", "17 70 JPY 1,190 JPY", "1,190 JPY"),
    ("BHD", "0.0005", "24250", "12.125", "24,250 0.0005 BHD 12.125 BHD", "12.125 BHD"),
    ("USD", "4", "2.50", "10.00", "2.5 4.00 USD 10.00 USD", "10.00 USD"),
])
def test_money_in_the_currency_minor_unit(currency, price, quantity, amount, shown_line, shown_total):
    lines = [line("claims_checked", amount, quantity=quantity, unit_price=price)]
    shown = text(issued_pdf(invoice(currency=currency, total=Decimal(amount)), lines))
    assert f"usage 1 event {shown_line}" in shown
    assert f"Total {shown_total}" in shown


def test_a_credit_note_shows_negative_amounts_and_the_invoice_it_corrects():
    lines = [line("claims_checked", "-1000.00", quantity="-2000", unit_price="0.50", events=-2000),
             line("eligibility_checks", "-234.50", quantity="-469", unit_price="0.50", events=0)]
    note = invoice(document_number="TLY-2026-000007", kind="credit_note", total=Decimal("-1234.50"),
                   corrects="TLY-2026-000001")
    shown = text(issued_pdf(note, lines))
    assert shown.startswith("Credit note ")
    assert "Corrects invoice TLY-2026-000001" in shown
    assert "usage -2,000 events -2,000 0.50 USD -1,000.00 USD" in shown
    assert "eligibility_checks · usage 0 events -469 0.50 USD -234.50 USD" in shown
    assert "Total -1,234.50 USD" in shown
    assert "TLY-2026-000007 Page 1 of 1" in shown


def test_a_debit_note():
    note = invoice(document_number="TLY-2026-000008", kind="debit_note", corrects="TLY-2026-000001")
    lines = [{**USD_LINES[0], "unit": "claims"}, USD_LINES[1]]
    shown = text(issued_pdf(note, lines))
    assert shown.startswith("Debit note ")
    assert "2,000 claims 0.50 USD 1,000.00 USD" in shown
    assert "Corrects invoice TLY-2026-000001" in shown


def test_unicode_names_and_addresses_survive_and_text_beyond_the_font_does_not_fail():
    document = invoice(customer_name="Café Zürich – Ærø Sàrl", issuer_name="Tally Billing AG & <Co>",
                       customer_address=LONG_ADDRESS + "\nStrada Ștefan cel Mare 7, 漢字 😀")
    shown = text(issued_pdf(document, USD_LINES))
    assert "Café Zürich – Ærø Sàrl" in shown
    assert "Tally Billing AG & <Co>" in shown
    assert ("Abteilung Rechnungswesen, Zentrale Verwaltung der Universitätskliniken Hauptstraße 123, "
            "Gebäude C, 4. Obergeschoss, Zimmer 4.17 10115 Berlin Germany") in shown
    assert "Strada Stefan cel Mare 7, ?? ?" in shown


@pytest.mark.parametrize(("changes", "lines", "message"), [
    ({"total": Decimal("1234.49")}, USD_LINES, "the total is not the sum"),
    ({"kind": "receipt"}, USD_LINES, "unknown document kind"),
    ({"kind": "credit_note"}, USD_LINES, "must name the invoice it corrects"),
    ({"currency": "JPY", "total": Decimal("0.5")}, [line("x", "0.5")], "more than the currency's 0 decimal"),
])
def test_a_document_that_must_not_reach_a_customer_is_refused(changes, lines, message):
    with pytest.raises(ValueError, match=message):
        issued_pdf(invoice(**changes), lines)
