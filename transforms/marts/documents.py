"""Invoices as documents a customer could receive: one standalone HTML page per invoice, and an index
page per billing month.

The pages are rendered from the invoice tables with the Jinja2 templates in ``templates/`` (autoescaped,
so names and ids are text, never markup). Every number is formatted from its exact ``Decimal``
(``formatting.py``), and a page is a pure function of its invoice: no clock, no locale, so the same
invoice gives the same bytes on every run. Each page carries a print stylesheet (A4, the table header
repeated on every page).

Customer names are not in the published warehouse (SPEC §5 lists ids only); they come from
``ref_customers`` of the working database. Read from a database without that table, a page shows the
customer id where the name would be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import duckdb
import jinja2

from transforms.marts.formatting import (
    format_billing_month,
    format_money,
    format_month,
    format_quantity,
    format_unit_price,
    minor_unit,
)
from transforms.warehouse import state_path

DEFAULT_ISSUER = "tally"
INDEX_FILE = "index.html"
AGGREGATION_NOTES = {
    "count": "events counted",
    "max": "peak in the period",
    "unique_count": "distinct values in the period",
}

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


class InvoiceNotFound(LookupError):
    """No invoice with that id in the database."""


def invoice_document(invoice: Mapping, lines: Sequence[Mapping], customer_name: str | None = None, *,
                     timezone: str | None = None, issuer: str = DEFAULT_ISSUER) -> str:
    """One invoice as a standalone HTML document.

    ``invoice`` is a row of ``invoices`` (invoice_id, customer_id, period_start, period_end, currency,
    total, line_count, event_count) and ``lines`` its rows of ``invoice_lines`` (metric_id, quantity,
    unit_price, amount, event_count; aggregation optional), shown in the order given. Without a
    ``customer_name`` the customer id stands in. ``timezone`` (the customer's) is shown with the period.
    ValueError if a line is in another currency or the total is not the sum of the line amounts: such a
    document must never reach a customer."""
    currency = invoice["currency"]
    if any(line.get("currency", currency) != currency for line in lines):
        raise ValueError(f"{invoice['invoice_id']}: a line is not in the invoice's currency {currency}")
    if sum((line["amount"] for line in lines), Decimal(0)) != invoice["total"]:
        raise ValueError(f"{invoice['invoice_id']}: the total is not the sum of the line amounts")
    return _templates.get_template("invoice.html.j2").render(
        issuer=issuer,
        invoice_id=invoice["invoice_id"],
        customer_id=invoice["customer_id"],
        customer_name=customer_name or invoice["customer_id"],
        period=format_billing_month(invoice["period_start"]),
        timezone=timezone,
        currency=currency,
        places=minor_unit(currency),
        lines=[
            {
                "metric": line["metric_id"],
                "note": AGGREGATION_NOTES.get(line.get("aggregation")),
                "events": f"{line['event_count']:,}",
                "quantity": format_quantity(line["quantity"]),
                "unit_price": format_unit_price(line["unit_price"], currency),
                "amount": format_money(line["amount"], currency),
            }
            for line in lines
        ],
        total=format_money(invoice["total"], currency),
        line_count=len(lines),
        event_count=invoice["event_count"],
    )


def month_index(period_start: date, invoices: Sequence[Mapping], customer_names: Mapping[str, str], *,
                issuer: str = DEFAULT_ISSUER) -> str:
    """The index page of a billing month: each invoice (linked to its document), and the total per
    currency. ``invoices`` are rows of ``invoices``, shown in the order given."""
    totals: dict[str, Decimal] = {}
    for invoice in invoices:
        totals[invoice["currency"]] = totals.get(invoice["currency"], Decimal(0)) + invoice["total"]
    return _templates.get_template("month_index.html.j2").render(
        issuer=issuer,
        month=format_month(period_start),
        invoices=[
            {
                "href": quote(document_file_name(invoice["invoice_id"]), safe=""),
                "invoice_id": invoice["invoice_id"],
                "customer_id": invoice["customer_id"],
                "customer_name": customer_names.get(invoice["customer_id"], invoice["customer_id"]),
                "line_count": invoice["line_count"],
                "total": format_money(invoice["total"], invoice["currency"]),
            }
            for invoice in invoices
        ],
        totals=[{"currency": c, "amount": format_money(t, c)} for c, t in sorted(totals.items())],
    )


def document_file_name(invoice_id: str) -> str:
    """``<invoice id>.html``, with any character that is not safe in a file name percent-encoded
    (``/`` included, so a document never lands outside its month's folder)."""
    return quote(invoice_id, safe="") + ".html"


def invoice_html(con: duckdb.DuckDBPyConnection, invoice_id: str, *, issuer: str = DEFAULT_ISSUER) -> str:
    """The document of one invoice, read from ``con`` (the working database, or the published warehouse
    without customer names). InvoiceNotFound if there is no such invoice."""
    invoices = _rows(con, "SELECT * FROM invoices WHERE invoice_id = ?", [invoice_id])
    if not invoices:
        raise InvoiceNotFound(f"no invoice {invoice_id!r}")
    [invoice] = invoices
    lines = _rows(con, "SELECT * FROM invoice_lines WHERE invoice_id = ? ORDER BY metric_id, unit_price",
                  [invoice_id])
    name, timezone = customers(con).get(invoice["customer_id"], (None, None))
    return invoice_document(invoice, lines, name, timezone=timezone, issuer=issuer)


def month_documents(con: duckdb.DuckDBPyConnection, period_start: date, *,
                    issuer: str = DEFAULT_ISSUER) -> dict[str, str]:
    """Every file of a billing month's folder: file name -> HTML, one document per invoice of the month
    and ``index.html``; empty when the month has no invoices."""
    invoices = _rows(con, "SELECT * FROM invoices WHERE period_start = ? ORDER BY invoice_id", [period_start])
    if not invoices:
        return {}
    lines: dict[str, list[dict]] = {}
    for line in _rows(con, "SELECT * FROM invoice_lines WHERE period_start = ? "
                           "ORDER BY invoice_id, metric_id, unit_price", [period_start]):
        lines.setdefault(line["invoice_id"], []).append(line)
    known = customers(con)
    files = {}
    for invoice in invoices:
        name, timezone = known.get(invoice["customer_id"], (None, None))
        files[document_file_name(invoice["invoice_id"])] = invoice_document(
            invoice, lines.get(invoice["invoice_id"], []), name, timezone=timezone, issuer=issuer)
    if INDEX_FILE in files:
        raise ValueError(f"an invoice id makes a document named {INDEX_FILE}")
    names = {customer_id: name for customer_id, (name, _) in known.items()}
    files[INDEX_FILE] = month_index(period_start, invoices, names, issuer=issuer)
    return files


def documents_connection(db: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to render documents from: the working database beside the warehouse ``db``
    (it has the customer names) when there is one, else the published warehouse itself. DuckDB raises
    ``duckdb.IOException`` while a run holds the working database."""
    state = state_path(db)
    return duckdb.connect(str(state if state.exists() else db), read_only=True)


def customers(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str | None]]:
    """customer_id -> (name, timezone) from ``ref_customers``; empty where that table does not exist
    (the published warehouse)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'ref_customers' "
        "AND table_catalog = current_database() AND table_schema = current_schema()").fetchone()[0]
    if not exists:
        return {}
    rows = con.execute("SELECT customer_id, name, timezone FROM ref_customers").fetchall()
    return {customer_id: (name, timezone) for customer_id, name, timezone in rows}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]
