"""Invoices and invoice lines from billed usage lines (SPEC §4), on Polars frames.

An invoice line is (customer, period, metric, unit_price); its quantity is the meter's aggregate,
its amount the exact product rounded half-to-even to the currency's minor unit. The product is taken
in Python's ``decimal`` once per invoice line (not per record): Polars' Decimal multiplication rounds
to the larger input scale, which would round twice.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import polars as pl

from transforms.currencies import CURRENCY_MINOR_UNITS

MONEY = pl.Decimal(38, 4)
QUANTITY = pl.Decimal(38, 18)
RECORD = pl.struct("source", "source_file", "line_number", "record_index")
LINE_GROUP = ["invoice_id", "customer_id", "period_start", "metric_id", "unit_price", "currency"]


def build_invoice_lines(billed: pl.LazyFrame) -> pl.DataFrame:
    """One row per customer × period × metric × unit price."""
    lines = (
        billed.group_by(LINE_GROUP)
        .agg(
            pl.col("aggregation").first(),
            pl.col("quantity").sum().alias("sum"),
            pl.col("quantity").max().alias("max"),
            pl.col("distinct_value").drop_nulls().n_unique().alias("unique_count"),
            RECORD.n_unique().cast(pl.Int64).alias("event_count"),
        )
        .with_columns(
            pl.when(pl.col("aggregation") == "max").then(pl.col("max"))
            .when(pl.col("aggregation") == "unique_count").then(pl.col("unique_count").cast(QUANTITY))
            .otherwise(pl.col("sum")).cast(QUANTITY).alias("quantity"),
        )
        .with_columns(pl.col("currency").replace_strict(CURRENCY_MINOR_UNITS).alias("minor_units"))
        .collect()
    )
    amounts = [
        _amount(q, p, m) for q, p, m in lines.select("quantity", "unit_price", "minor_units").iter_rows()
    ]
    return (
        lines.with_columns(pl.Series("amount", amounts, dtype=MONEY))
        .select(
            "invoice_id", "customer_id", "period_start", "metric_id", "aggregation",
            "unit_price", "quantity", "amount", "currency", "event_count",
        )
        .sort("invoice_id", "metric_id", "unit_price")
    )


def _amount(quantity: Decimal, unit_price: Decimal, minor_units: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 100
        return (quantity * unit_price).quantize(Decimal(1).scaleb(-minor_units), rounding=ROUND_HALF_EVEN)


def build_invoices(invoice_lines: pl.DataFrame, billed: pl.LazyFrame) -> pl.DataFrame:
    """One row per invoice (customer × period); the total is the sum of its line amounts."""
    records = (
        billed.group_by("customer_id", "period_start")
        .agg(RECORD.n_unique().cast(pl.Int64).alias("event_count"))
        .collect()
    )
    return (
        invoice_lines.group_by("invoice_id", "customer_id", "period_start", "currency")
        .agg(pl.col("amount").sum().cast(MONEY).alias("total"), pl.len().cast(pl.Int64).alias("line_count"))
        .join(records, on=["customer_id", "period_start"], how="left")
        .with_columns(pl.col("period_start").dt.offset_by("1mo").alias("period_end"))
        .select(
            "invoice_id", "customer_id", "period_start", "period_end", "currency",
            "total", "line_count", "event_count",
        )
        .sort("invoice_id")
    )
