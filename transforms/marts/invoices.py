"""Invoices and invoice lines from the aggregated billed usage (SPEC §4, §8), on Polars frames.

An invoice line is (customer, period, metric, kind, tier, unit_price); its quantity is the meter's
aggregate (or a tier's share of it, packages, 1 for a fee or a minimum), its amount the exact product
rounded half-to-even to the currency's minor unit. The product is taken
in Python's ``decimal`` once per invoice line (not per record): Polars' Decimal multiplication rounds
to the larger input scale, which would round twice.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import polars as pl

from transforms.currencies import CURRENCY_MINOR_UNITS

MONEY = pl.Decimal(38, 4)
QUANTITY = pl.Decimal(38, 18)


def column_limit(dtype: pl.Decimal) -> Decimal:
    """The least value a column of ``dtype`` cannot hold."""
    return Decimal(10) ** (dtype.precision - dtype.scale)


MONEY_LIMIT, QUANTITY_LIMIT = column_limit(MONEY), column_limit(QUANTITY)


def build_invoice_lines(aggregated: pl.DataFrame) -> pl.DataFrame:
    """One row per customer × period × metric × unit price, from the aggregated billed usage
    (``invoice_lines.sql``): adds the amount, NULL where ``MONEY`` cannot hold it (``holds``)."""
    minor_units = aggregated["currency"].replace_strict(CURRENCY_MINOR_UNITS, return_dtype=pl.Int64)
    amounts = [
        _fitting(line_amount(q, p, m)) for q, p, m in zip(aggregated["quantity"], aggregated["unit_price"], minor_units)
    ]
    return (
        aggregated.with_columns(
            pl.Series("amount", amounts, dtype=MONEY),
            pl.col("quantity").cast(QUANTITY),
            pl.col("event_count").cast(pl.Int64),
        )
        .select(
            "invoice_id", "customer_id", "period_start", "metric_id", "aggregation",
            "unit_price", "quantity", "amount", "currency", "event_count", "kind", "tier", "price_model",
            "description",
        )
        .sort("invoice_id", "metric_id", "kind", "tier", "unit_price", nulls_last=False)
    )


def _fitting(amount: Decimal) -> Decimal | None:
    return amount if amount < MONEY_LIMIT else None


def line_amount(quantity: Decimal, unit_price: Decimal, minor_units: int) -> Decimal:
    """An invoice line's amount: ``exact_product`` rounded half-to-even to ``minor_units`` digits (SPEC §4)."""
    with localcontext() as ctx:
        ctx.prec = 100
        return exact_product(quantity, unit_price).quantize(Decimal(1).scaleb(-minor_units),
                                                            rounding=ROUND_HALF_EVEN)


def exact_product(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """quantity × unit_price, not rounded: 100 digits hold any product of two DECIMAL(38, 18)."""
    with localcontext() as ctx:
        ctx.prec = 100
        return quantity * unit_price


def unfit_invoices(aggregated: pl.DataFrame, usage: pl.DataFrame) -> dict[str, str]:
    """Invoice id -> the first (in sorted order) of its figures that its column cannot hold: a month's
    quantity (``aggregated``, from ``invoice_lines.sql``: NULL where the sum does not fit), a line's
    amount (``usage``, from ``build_invoice_lines``: NULL where it does not fit), or the total."""
    problems: dict[str, list[str]] = {}
    for invoice, metric in aggregated.filter(pl.col("quantity").is_null()).select("invoice_id", "metric_id").rows():
        problems.setdefault(invoice, []).append(f"the month's quantity of {metric} does not fit {_sql(QUANTITY)}")
    totals: dict[str, Decimal] = {}
    for invoice, metric, amount in usage.select("invoice_id", "metric_id", "amount").rows():
        if amount is None:
            problems.setdefault(invoice, []).append(f"the amount of {metric} does not fit {_sql(MONEY)}")
        else:
            totals[invoice] = totals.get(invoice, Decimal(0)) + amount
    for invoice, total in totals.items():
        if total >= MONEY_LIMIT:
            problems.setdefault(invoice, []).append(f"the total does not fit {_sql(MONEY)}")
    return {invoice: min(found) for invoice, found in sorted(problems.items())}


def _sql(dtype: pl.Decimal) -> str:
    return f"DECIMAL({dtype.precision}, {dtype.scale})"


def build_invoices(invoice_lines: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """One row per invoice (customer × period); the total is the sum of its line amounts.

    ``records`` holds the number of distinct billed records (``event_count``) per customer × period.
    """
    return (
        invoice_lines.group_by("invoice_id", "customer_id", "period_start", "currency")
        .agg(pl.col("amount").sum().cast(MONEY).alias("total"), pl.len().cast(pl.Int64).alias("line_count"))
        .join(records.with_columns(pl.col("event_count").cast(pl.Int64)), on=["customer_id", "period_start"],
              how="left")
        .with_columns(pl.col("event_count").fill_null(0))  # a month a minimum commitment alone invoices
        .with_columns(pl.col("period_start").dt.offset_by("1mo").alias("period_end"))
        .select(
            "invoice_id", "customer_id", "period_start", "period_end", "currency",
            "total", "line_count", "event_count",
        )
        .sort("invoice_id")
    )
