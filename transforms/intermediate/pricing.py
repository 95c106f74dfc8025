"""The price book rule of SPEC §4, on Polars frames.

A unit price carried by the event wins (``price_source = "event"``, applied in ``priced_usage.sql``).
Otherwise the price book row of the customer, else the default row of the customer's currency,
effective on the event's local date; ``max`` and ``unique_count`` look the price up on the period's
first day, since one price must hold for the whole aggregate (``price_date`` in ``priced_usage.sql``).

The book is consulted once per distinct lookup (metric, customer, currency, date), not once per usage
line: a month of usage has millions of lines but only customers × metrics × days of lookups.
"""

from __future__ import annotations

import polars as pl

LOOKUP = ["metric_id", "customer_id", "currency", "price_date"]


def book_prices(lookups: pl.LazyFrame, prices: pl.LazyFrame) -> pl.LazyFrame:
    """One row per lookup (``LOOKUP``) that the price book answers: ``LOOKUP`` + ``book_price``."""
    book = prices.rename({"customer_id": "price_customer_id"})
    return (
        lookups.join(book, on=["metric_id", "currency"], how="inner")
        .filter(
            (pl.col("price_customer_id").is_null() | (pl.col("price_customer_id") == pl.col("customer_id")))
            & (pl.col("effective_from").is_null() | (pl.col("effective_from") <= pl.col("price_date")))
            & (pl.col("effective_to").is_null() | (pl.col("price_date") < pl.col("effective_to")))
        )
        .group_by(LOOKUP)
        .agg(pl.col("unit_price").sort_by(pl.col("price_customer_id").is_null()).first().alias("book_price"))
    )
