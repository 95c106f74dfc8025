"""Reference data of the pricing models (SPEC §8): ``model`` and ``package_size`` of prices.csv, the tiers of
price_tiers.csv and the minimums of commitments.csv, checked with file, row and problem like the rest of
``transforms.reference`` (which calls these and owns the reading and the shared checks).
"""

from __future__ import annotations

import polars as pl

MODELS = ("per_unit", "graduated", "volume", "package")
TIERED = ("graduated", "volume")
ROW_KEY = ["metric_id", "customer_id", "currency", "effective_from"]
_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
_AMOUNT = pl.Decimal(38, 18)
TIER_SCHEMA = {"metric_id": pl.String, "customer_id": pl.String, "currency": pl.String, "effective_from": pl.Date,
               "tier": pl.Int32, "lower_bound": _AMOUNT, "up_to": _AMOUNT, "unit_price": _AMOUNT, "flat_fee": _AMOUNT}
COMMITMENT_SCHEMA = {"customer_id": pl.String, "currency": pl.String, "minimum_amount": _AMOUNT,
                     "effective_from": pl.Date, "effective_to": pl.Date}


def decimal(df: pl.DataFrame, file: str, column: str, problems) -> pl.DataFrame:
    """``column`` as Decimal(38, 18) where it is a plain non-negative decimal; other non-blank values
    reported."""
    value = pl.col(column)
    plain = value.str.contains(_DECIMAL)
    problems.flag(file, df, value.is_not_null() & ~plain,
                  pl.format(f"{column} '{{}}' is not a plain non-negative decimal", value))
    problems.flag(file, df, plain & ((value.str.extract(r"\.([0-9]+)$").str.len_chars() > 18)
                                     | (value.str.extract(r"^0*([0-9]+)").str.len_chars() > 20)),
                  pl.format(f"{column} {{}} has more than 18 fractional or 20 integer digits", value))
    return df.with_columns(pl.when(plain).then(value).str.to_decimal(scale=18).cast(pl.Decimal(38, 18)).alias(column))


def check_models(prices: pl.DataFrame, problems) -> pl.DataFrame:
    """``model`` (blank: per_unit) and ``package_size`` (Int64, package rows only); a per-unit or package
    row needs its unit_price (a tiered row's prices are its tiers)."""
    file = "prices.csv"
    prices = prices.with_columns(pl.col("model").fill_null("per_unit"))
    problems.flag(file, prices, ~pl.col("model").is_in(MODELS),
                  pl.format("unknown model '{}' (expected per_unit, graduated, volume or package)", "model"))
    problems.flag(file, prices, pl.col("unit_price").is_null() & ~pl.col("model").is_in(TIERED),
                  pl.lit("unit_price is blank"))
    package = pl.col("model") == "package"
    size = pl.col("package_size")
    problems.flag(file, prices, package & size.is_null(), pl.lit("package_size is blank for a package row"))
    problems.flag(file, prices, package & size.is_not_null() & ~size.str.contains(r"^[1-9][0-9]{0,17}$"),
                  pl.format("package_size '{}' is not a positive integer", size))
    problems.flag(file, prices, ~package & size.is_not_null(),
                  pl.format("package_size '{}' is for package rows only (this row is {})", size, "model"))
    return prices.with_columns(pl.when(package).then(size).cast(pl.Int64, strict=False).alias("package_size"))


def check_tiers(tiers: pl.DataFrame | None, prices: pl.DataFrame, problems) -> pl.DataFrame:
    """The tiers of each graduated or volume row, numbered in file order, with their lower bounds."""
    file = "price_tiers.csv"
    tiered_rows = prices.filter(pl.col("model").is_in(TIERED))
    if tiers is None:
        tiers = pl.DataFrame(schema={"row": pl.Int64, **{c: pl.String for c in ROW_KEY}, "up_to": pl.String,
                                     "unit_price": pl.String, "flat_fee": pl.String})
    tiers = tiers.with_columns(effective_from_text=pl.col("effective_from"), effective_from=_date(pl.col("effective_from")))
    problems.flag(file, tiers, pl.col("effective_from").is_null() & pl.col("effective_from_text").is_not_null(),
                  pl.format("effective_from '{}' is not a date (YYYY-MM-DD)", "effective_from_text"))
    for column in ("up_to", "unit_price", "flat_fee"):
        tiers = decimal(tiers, file, column, problems)
    rows = tiered_rows.select(*ROW_KEY, price_row=pl.col("row"), model=pl.col("model"))
    matched = tiers.join(rows, on=ROW_KEY, how="left", nulls_equal=True)
    customer = pl.format("customer {}", "customer_id").fill_null(pl.lit("default"))
    problems.flag(file, matched, pl.col("price_row").is_null(), pl.format(
        "tiers without a row: prices.csv has no graduated or volume row for (metric {}, {}, {}, effective_from {})",
        "metric_id", customer, "currency", pl.col("effective_from_text").fill_null("blank")))
    ranked = matched.filter(pl.col("price_row").is_not_null()).sort("row").with_columns(
        tier=pl.int_range(1, pl.len() + 1).over("price_row").cast(pl.Int32),
        last=(pl.col("row") == pl.col("row").max()).over("price_row"),
        lower_bound=pl.col("up_to").shift(1).over("price_row").fill_null(0).cast(pl.Decimal(38, 18)),
    )
    problems.flag(file, ranked, pl.col("last") & pl.col("up_to").is_not_null(), pl.format(
        "the last tier of its row has up_to {}: a last tier has no bound (leave up_to blank)", "up_to"))
    problems.flag(file, ranked, ~pl.col("last") & pl.col("up_to").is_null(),
                  pl.lit("a tier without up_to before the last tier of its row"))
    problems.flag(file, ranked, (pl.col("tier") > 1) & (pl.col("up_to") <= pl.col("lower_bound")), pl.format(
        "up_to {} is not above the previous tier's {}: tiers increase strictly in file order", "up_to", "lower_bound"))
    with_tiers = set(ranked["price_row"].to_list())
    problems.flag("prices.csv", tiered_rows, ~pl.col("row").is_in(list(with_tiers)),
                  pl.format("a {} row without tiers in price_tiers.csv", "model"))
    return ranked.select(*ROW_KEY, "tier", "lower_bound", "up_to", "unit_price",
                         pl.col("flat_fee").fill_null(0)).cast(TIER_SCHEMA)


def check_commitments(commitments: pl.DataFrame | None, problems) -> pl.DataFrame:
    """Minimums per customer and month; the shared checks (customer, currency) are the caller's."""
    file = "commitments.csv"
    if commitments is None:
        return pl.DataFrame(schema=COMMITMENT_SCHEMA)
    commitments = decimal(commitments, file, "minimum_amount", problems).with_columns(
        effective_from_text=pl.col("effective_from"), effective_to_text=pl.col("effective_to"),
        effective_from=_date(pl.col("effective_from")), effective_to=_date(pl.col("effective_to")))
    for column in ("effective_from", "effective_to"):
        problems.flag(file, commitments, pl.col(column).is_null() & pl.col(f"{column}_text").is_not_null(),
                      pl.format(f"{column} '{{}}' is not a date (YYYY-MM-DD)", f"{column}_text"))
    problems.flag(file, commitments, pl.col("effective_from") >= pl.col("effective_to"),
                  pl.format("effective_from {} is not before effective_to {}", "effective_from", "effective_to"))
    spans = commitments.select("customer_id", "row", start=pl.col("effective_from").fill_null(pl.date(1, 1, 1)),
                               end=pl.col("effective_to").fill_null(pl.date(9999, 12, 31)))
    overlaps = spans.join(spans, on="customer_id", suffix="_earlier").filter(
        pl.col("row_earlier") < pl.col("row"), pl.col("start") < pl.col("end_earlier"),
        pl.col("start_earlier") < pl.col("end")).sort("row", "row_earlier")
    problems.flag(file, overlaps, pl.lit(True), pl.format(
        "overlapping commitments for one customer: overlaps row {} of customer {}", "row_earlier", "customer_id"))
    return commitments.select(list(COMMITMENT_SCHEMA)).cast(COMMITMENT_SCHEMA)


def _date(text: pl.Expr) -> pl.Expr:
    return pl.when(text.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")).then(text).str.to_date("%Y-%m-%d", strict=False)
