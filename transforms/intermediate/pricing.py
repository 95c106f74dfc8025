"""Step 11 of SPEC §2 and the price rules of §4, on Polars frames.

A unit price carried by the event wins (``price_source = "event"``). Otherwise the price book row of
the customer, else the default row of the customer's currency, effective on the event's local date;
``max`` and ``unique_count`` look the price up on the period's first day, since one price must hold
for the whole aggregate. A line with no price leaves its whole record ``no_price``.
"""

from __future__ import annotations

import polars as pl

LINE_KEY = ["source_file", "line_number", "record_index", "property_index"]
RECORD_KEY = ["source_file", "line_number", "record_index"]
PRICING_INPUT = [*LINE_KEY, "metric_id", "customer_id", "currency", "aggregation", "local_date", "period_start",
                 "unit_price", "outcome", "reason", "detail"]
PRICED_COLUMNS = [*LINE_KEY, "unit_price", "price_source", "outcome", "reason", "detail", "invoice_id"]


def book_prices(lines: pl.LazyFrame, prices: pl.LazyFrame) -> pl.LazyFrame:
    """One row per line that has a price book price: ``LINE_KEY`` + ``book_price``."""
    wanted = lines.select(
        *LINE_KEY,
        "metric_id",
        "customer_id",
        "currency",
        pl.when(pl.col("aggregation").is_in(["max", "unique_count"]))
        .then(pl.col("period_start"))
        .otherwise(pl.col("local_date"))
        .alias("price_date"),
    )
    book = prices.rename({"customer_id": "price_customer_id"})
    return (
        wanted.join(book, on=["metric_id", "currency"], how="inner")
        .filter(
            (pl.col("price_customer_id").is_null() | (pl.col("price_customer_id") == pl.col("customer_id")))
            & (pl.col("effective_from").is_null() | (pl.col("effective_from") <= pl.col("price_date")))
            & (pl.col("effective_to").is_null() | (pl.col("price_date") < pl.col("effective_to")))
        )
        .group_by(LINE_KEY)
        .agg(pl.col("unit_price").sort_by(pl.col("price_customer_id").is_null()).first().alias("book_price"))
    )


def price_lines(lines: pl.LazyFrame, prices: pl.LazyFrame) -> pl.LazyFrame:
    """Adds ``price_source`` and the final ``unit_price``; decides ``no_price`` and ``billed``.

    ``lines`` are the metered lines (every line of every record); only lines without an outcome yet
    are priced. Record-level: any unpriced line leaves the whole record ``no_price``.
    """
    standing = pl.col("outcome").is_null()
    priced = lines.join(book_prices(lines.filter(standing), prices), on=LINE_KEY, how="left")
    price_source = (
        pl.when(~standing).then(None)
        .when(pl.col("unit_price").is_not_null()).then(pl.lit("event"))
        .when(pl.col("book_price").is_not_null()).then(pl.lit("price_book"))
    )
    unpriced_record = (standing & price_source.is_null()).any().over(RECORD_KEY)
    # One detail per record, naming its (first) unpriced metric: every line of the record, and so the
    # one row `quarantine` keeps of it, says the same, whatever the row order.
    unpriced_metric = (
        pl.when(standing & price_source.is_null()).then(pl.col("metric_id").fill_null("?")).min().over(RECORD_KEY)
    )
    return (
        priced.with_columns(
            price_source.alias("price_source"),
            pl.when(standing).then(pl.coalesce("unit_price", "book_price")).alias("unit_price"),
        )
        .with_columns(
            pl.when(~standing).then(pl.col("outcome"))
            .when(unpriced_record).then(pl.lit("quarantined"))
            .otherwise(pl.lit("billed")).alias("outcome"),
            pl.when(standing & unpriced_record).then(pl.lit("no_price"))
            .otherwise(pl.col("reason")).alias("reason"),
            pl.when(standing & unpriced_record)
            .then(pl.lit("no unit price on the event or in prices.csv for ") + unpriced_metric)
            .otherwise(pl.col("detail")).alias("detail"),
        )
        .with_columns(
            pl.when(pl.col("outcome") == "billed")
            .then(invoice_id(pl.col("customer_id"), pl.col("period_start")))
            .alias("invoice_id")
        )
        .drop("book_price")
    )


def invoice_id(customer_id: pl.Expr, period_start: pl.Expr) -> pl.Expr:
    """Deterministic and readable: ``INV-<yyyymm>-<customer_id>``, one per customer × billing month."""
    return pl.concat_str(pl.lit("INV-"), period_start.dt.strftime("%Y%m"), pl.lit("-"), customer_id)
