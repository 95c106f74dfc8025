"""The price book rules of SPEC §4 and §8, on Polars frames.

A unit price carried by the event wins (``price_source = "event"``, applied in ``priced_lines.sql``) and
stays per unit. Otherwise the price book decides, the customer's own rows before the default rows of its
currency:

- The row effective on the period's first local day decides the month's model. A ``graduated``,
  ``volume`` or ``package`` row prices the month's quantity as a whole (``transforms.marts.rating``): the
  usage line gets that model and the row's key (``price_row_customer``, ``price_row_from``), and no unit
  price of its own.
- Otherwise each line takes the ``per_unit`` row effective on its local date (``max`` and
  ``unique_count`` look up the period's first day, since one price must hold for the whole aggregate:
  ``price_date`` in ``meter_checks.sql``). A tiered row that starts within a month prices from the next
  month on: it is not a unit price.

The book is consulted once per distinct lookup (metric, customer, currency, date, month), not once per
usage line: a month of usage has millions of lines but only customers × metrics × days of lookups.
"""

from __future__ import annotations

import polars as pl

LOOKUP = ["metric_id", "customer_id", "currency", "price_date", "period_start"]
RATED_MODELS = ("graduated", "volume", "package")


def book_prices(lookups: pl.LazyFrame, prices: pl.LazyFrame) -> pl.LazyFrame:
    """One row per lookup (``LOOKUP``) the price book answers: ``LOOKUP`` + ``book_price`` (per unit, else
    null), ``price_model``, ``price_row_customer`` and ``price_row_from`` (the rated row's key)."""
    candidates = lookups.join(prices.rename({"customer_id": "price_customer_id"}), on=["metric_id", "currency"],
                              how="inner").filter(
        pl.col("price_customer_id").is_null() | (pl.col("price_customer_id") == pl.col("customer_id")))
    own_first = pl.col("price_customer_id").is_null()  # sorts the customer's own rows (False) first
    first_day = (
        candidates.filter(_effective_on("period_start"))
        .group_by(LOOKUP)
        .agg(pl.all().sort_by(own_first).first())
        .select(*LOOKUP, pl.col("model").alias("first_day_model"),
                pl.col("price_customer_id").alias("price_row_customer"), pl.col("effective_from").alias("price_row_from"))
    )
    per_unit = (
        candidates.filter(_effective_on("price_date") & (pl.col("model") == "per_unit"))
        .group_by(LOOKUP)
        .agg(pl.col("unit_price").sort_by(own_first).first().alias("per_unit_price"))
    )
    rated = pl.col("first_day_model").is_in(RATED_MODELS)
    return (
        lookups.select(LOOKUP).unique()
        .join(first_day, on=LOOKUP, how="left", nulls_equal=True)
        .join(per_unit, on=LOOKUP, how="left", nulls_equal=True)
        .select(
            *LOOKUP,
            pl.when(rated).then(None).otherwise(pl.col("per_unit_price")).alias("book_price"),
            pl.when(rated).then(pl.col("first_day_model"))
            .when(pl.col("per_unit_price").is_not_null()).then(pl.lit("per_unit")).alias("price_model"),
            pl.when(rated).then(pl.col("price_row_customer")).alias("price_row_customer"),
            pl.when(rated).then(pl.col("price_row_from")).alias("price_row_from"),
        )
        .filter(pl.col("price_model").is_not_null())
    )


def _effective_on(column: str) -> pl.Expr:
    return ((pl.col("effective_from").is_null() | (pl.col("effective_from") <= pl.col(column)))
            & (pl.col("effective_to").is_null() | (pl.col(column) < pl.col("effective_to"))))
