"""Which raw records make up an invoice, and whether its numbers still follow from them.

Each line of ``invoice_lines`` is set beside the records the ``invoice_line_records`` view puts on it,
and checked again: the meter's aggregate of those records against the line's quantity, the records
against its event count, quantity × unit price rounded as ``marts.invoices`` rounds it against its
amount, and the lines against the invoice's total, line count and event count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb
import polars as pl

from transforms.explain.refs import invoice_not_found
from transforms.marts.formatting import minor_unit
from transforms.marts.invoices import exact_product, line_amount
from transforms.sql_files import read_sql

DEFAULT_LIMIT = 20


@dataclass
class InvoiceLine:
    metric_id: str
    aggregation: str
    unit_price: Decimal
    quantity: Decimal
    amount: Decimal
    currency: str
    event_count: int
    usage_lines: int  # billed usage lines behind the line (a paygentic record may have several)
    records: int  # distinct billed records behind the line
    recomputed_quantity: Decimal | None  # the aggregate over those usage lines, recomputed now
    exact_amount: Decimal  # quantity × unit_price, not rounded
    expected_amount: Decimal  # exact_amount rounded half-to-even to the currency's minor unit
    price_sources: list[str]
    shown: pl.DataFrame  # the first usage lines (all with limit None), in file order
    kind: str = "usage"  # usage, flat_fee or minimum (SPEC §8)
    tier: int | None = None
    price_model: str | None = "per_unit"
    description: str | None = None
    split_quantity: Decimal | None = None  # a rated month: what its usage lines add up to (graduated) or hold

    @property
    def rated(self) -> bool:
        """A line of a month's quantity rated as a whole: its records are the month's, not the line's."""
        return self.price_model not in (None, "per_unit")

    @property
    def quantity_matches(self) -> bool:
        if self.kind != "usage":
            return True  # a fee or a minimum is one unit at its price, with no records of its own
        if self.price_model == "package":
            return self.recomputed_quantity is not None  # packages of the month's quantity (its description)
        if self.rated:
            return self.split_quantity == self.recomputed_quantity
        return self.recomputed_quantity == self.quantity

    @property
    def amount_matches(self) -> bool:
        return self.expected_amount == self.amount

    @property
    def events_match(self) -> bool:
        return self.records == self.event_count

    @property
    def not_shown(self) -> int:
        return self.usage_lines - self.shown.height


@dataclass
class InvoiceExplanation:
    invoice_id: str
    customer_id: str
    period_start: date
    period_end: date
    currency: str
    total: Decimal
    line_count: int
    event_count: int
    lines: list[InvoiceLine] = field(default_factory=list)
    records: int = 0  # distinct billed records on the invoice, recounted from invoice_line_records
    limit: int | None = DEFAULT_LIMIT

    @property
    def lines_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def consistent(self) -> bool:
        return (self.lines_total == self.total and len(self.lines) == self.line_count
                and self.records == self.event_count
                and all(line.quantity_matches and line.amount_matches and line.events_match for line in self.lines))


def explain_invoice(con: duckdb.DuckDBPyConnection, invoice_id: str,
                    limit: int | None = DEFAULT_LIMIT) -> InvoiceExplanation:
    """Every line of an invoice with the raw records it came from (the first ``limit`` usage lines of
    each invoice line, all with None); NotFound with close invoice ids if there is no such invoice."""
    rows = con.sql("SELECT invoice_id, customer_id, period_start, period_end, currency, total, line_count, "
                   "event_count FROM invoices WHERE invoice_id = ?", params=[invoice_id]).fetchall()
    if not rows:
        raise invoice_not_found(con, invoice_id)
    explanation = InvoiceExplanation(*rows[0], limit=limit)
    places = minor_unit(explanation.currency)
    lines = con.sql(read_sql(__file__, "invoice_lines.sql"), params={"invoice_id": invoice_id}).pl()
    shown = con.sql(read_sql(__file__, "invoice_records.sql"), params={"invoice_id": invoice_id, "limit": limit}).pl()
    by_line = shown.partition_by("metric_id", "kind", "tier", "unit_price", as_dict=True, maintain_order=True)
    rated = lines.filter((pl.col("kind") == "usage") & (pl.col("price_model") != "per_unit"))
    splits = {(m, p): (sum(q, Decimal(0)) if p == "graduated" else max(q)) for m, p, q in
              rated.group_by("metric_id", "price_model").agg(pl.col("quantity")).iter_rows()} if rated.height else {}
    for line in lines.iter_rows(named=True):
        explanation.lines.append(InvoiceLine(
            **line,
            exact_amount=exact_product(line["quantity"], line["unit_price"]),
            expected_amount=line_amount(line["quantity"], line["unit_price"], places),
            shown=by_line.get((line["metric_id"], line["kind"], line["tier"], line["unit_price"]), shown.clear()),
            split_quantity=splits.get((line["metric_id"], line["price_model"])),
        ))
    explanation.records = con.sql("SELECT count(DISTINCT record_id) FROM invoice_line_records WHERE invoice_id = ?",
                                  params=[invoice_id]).fetchall()[0][0]
    return explanation
