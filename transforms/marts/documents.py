"""Invoices as documents a customer could receive: one standalone HTML page per invoice, and an index
page per billing month.

The pages are rendered from the invoice tables with the Jinja2 templates in ``templates/`` (autoescaped,
so names and ids are text, never markup). Every number is formatted from its exact ``Decimal``
(``formatting.py``), and a page is a pure function of its invoice: no clock, no locale, so the same
invoice gives the same bytes on every run. Each page carries a print stylesheet (A4, the table header
repeated on every page).

Documents are rendered from the published warehouse, never from the working database: its
``invoices``, ``invoice_lines`` and ``customers`` (names and time zones, published beside SPEC §5's
tables for them). Read from a database without ``customers`` (a warehouse published by an older
version), a page shows the customer id where the name would be. ``invoice_fingerprints`` says which
documents a publication changes, and ``renderer_fingerprint`` whether the way pages are rendered did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
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
                "metric": line.get("description") or line["metric_id"],
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
    """The document of one invoice, read from ``con`` (the published warehouse). InvoiceNotFound if there
    is no such invoice."""
    invoices = _rows(con, "SELECT * FROM invoices WHERE invoice_id = ?", [invoice_id])
    if not invoices:
        raise InvoiceNotFound(f"no invoice {invoice_id!r}")
    [invoice] = invoices
    lines = _rows(con, "SELECT * FROM invoice_lines WHERE invoice_id = ? ORDER BY metric_id, kind DESC, tier, unit_price",
                  [invoice_id])
    name, timezone = customers(con).get(invoice["customer_id"], (None, None))
    return invoice_document(invoice, lines, name, timezone=timezone, issuer=issuer)


def month_documents(con: duckdb.DuckDBPyConnection, period_start: date, *,
                    issuer: str = DEFAULT_ISSUER, skip: Collection[str] = ()) -> dict[str, str]:
    """Every file of a billing month's folder: file name -> HTML, one document per invoice of the month
    and ``index.html``; empty when the month has no invoices. The documents of the invoices in ``skip``
    (ids whose pages are already written, see ``document_files``) are left out; the index never is."""
    invoices = _rows(con, "SELECT * FROM invoices WHERE period_start = ? ORDER BY invoice_id", [period_start])
    if not invoices:
        return {}
    lines: dict[str, list[dict]] = {}
    for line in _rows(con, "SELECT * FROM invoice_lines WHERE period_start = ? "
                           "ORDER BY invoice_id, metric_id, kind DESC, tier, unit_price", [period_start]):
        lines.setdefault(line["invoice_id"], []).append(line)
    known = customers(con)
    files = {}
    for invoice in invoices:
        name = document_file_name(invoice["invoice_id"])
        if name == INDEX_FILE:
            raise ValueError(f"an invoice id makes a document named {INDEX_FILE}")
        if invoice["invoice_id"] in skip:
            continue
        customer_name, timezone = known.get(invoice["customer_id"], (None, None))
        files[name] = invoice_document(
            invoice, lines.get(invoice["invoice_id"], []), customer_name, timezone=timezone, issuer=issuer)
    names = {customer_id: name for customer_id, (name, _) in known.items()}
    files[INDEX_FILE] = month_index(period_start, invoices, names, issuer=issuer)
    return files


def documents_connection(db: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse ``db``, which documents are rendered from. It is
    renamed over by a run, never written in place, so this neither waits for nor blocks a run."""
    return duckdb.connect(str(db), read_only=True)


def customers(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str | None]]:
    """customer_id -> (name, timezone) from ``customers``; empty where there is no such table (a
    warehouse published by an older version)."""
    if not _has_relation(con, "customers"):
        return {}
    rows = con.execute("SELECT customer_id, name, timezone FROM customers").fetchall()
    return {customer_id: (name, timezone) for customer_id, name, timezone in rows}


def invoice_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[date, dict[str, str]]:
    """Billing month -> invoice id -> sha256 of everything the invoice's document is rendered from: its
    row of ``invoices`` and its rows of ``invoice_lines``, every column, and its customer's name and time
    zone. Equal fingerprints give equal documents (with the same ``renderer_fingerprint``); a month
    without invoices is absent, and a line without its invoice counts under its invoice id all the same.

    Computed by DuckDB over the small invoice tables, so a run checks its documents without rendering
    them. Exact: decimals become JSON numbers with all their digits."""
    names = ("SELECT customer_id, name, timezone FROM customers" if _has_relation(con, "customers")
             else "SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS name, NULL::VARCHAR AS timezone LIMIT 0")
    rows = con.sql(f"""
        WITH names AS ({names}),
        invoice_rows AS (
            SELECT i.period_start, i.invoice_id, 0 AS part,
                   to_json(i)::VARCHAR || coalesce(to_json(n)::VARCHAR, 'null') AS text
            FROM invoices i LEFT JOIN names n USING (customer_id)
        ),
        line_rows AS (
            SELECT l.period_start, l.invoice_id, 1 AS part, to_json(l)::VARCHAR AS text FROM invoice_lines l
        )
        SELECT period_start, invoice_id, sha256(string_agg(text, chr(10) ORDER BY part, text))
        FROM (SELECT * FROM invoice_rows UNION ALL SELECT * FROM line_rows
              WHERE period_start IN (SELECT period_start FROM invoices))
        GROUP BY ALL ORDER BY ALL""").fetchall()
    months: dict[date, dict[str, str]] = {}
    for period, invoice_id, fingerprint in rows:
        months.setdefault(period, {})[invoice_id] = fingerprint
    return months


def month_fingerprint(invoices: Mapping[str, str]) -> str:
    """sha256 of a month's invoice fingerprints (``invoice_fingerprints``): of everything its folder,
    index included, is rendered from."""
    return hashlib.sha256("".join(f"{i}\n{f}\n" for i, f in sorted(invoices.items())).encode()).hexdigest()


def renderer_fingerprint() -> str:
    """sha256 of what turns the rows into pages (this module, the formatting and the templates): after
    an upgrade that changes them, every document is rendered again."""
    digest = hashlib.sha256()
    here = Path(__file__)
    sources = [here, here.with_name("formatting.py"), *sorted(here.with_name("templates").iterdir())]
    for path in sources:
        digest.update(f"{path.name}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _has_relation(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether ``name`` is a table or view of the database ``con`` has open."""
    return con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
        "AND table_catalog = current_database() AND table_schema = current_schema()", [name]).fetchall()[0][0] > 0


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]
