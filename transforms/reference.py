"""Reference data (SPEC §3): load and validate the five CSV files of a reference directory.

`load_reference` returns a fully valid `Reference` or raises one `ReferenceDataError` listing every
problem in every file, one per line: `<file>, row <n>: <problem>`, or `<file>: <problem>` for a
missing file. Row numbers are line numbers in the file, the header being row 1. Files are UTF-8 (a
BOM is fine); every cell is text, stripped of surrounding whitespace, and an empty cell is blank
(null). Lines whose cells are all blank are skipped.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

from transforms import reference_pricing
from transforms.currencies import CURRENCY_MINOR_UNITS
from transforms.raw.dump_files import SOURCES

__all__ = ["AGGREGATIONS", "CURRENCY_MINOR_UNITS", "SOURCES", "Reference", "ReferenceDataError",
           "load_reference"]

AGGREGATIONS = ("sum", "count", "max", "unique_count")
EFFECTS = ("bill", "void")
STATUS_SOURCES = ("tula",)

COLUMNS = {
    "customers.csv": ("customer_id", "name", "currency", "timezone", "address", "tax_id"),
    "customer_keys.csv": ("source", "source_customer_key", "customer_id"),
    "meters.csv": ("source", "event_type", "metric_id", "aggregation", "property"),
    "prices.csv": ("metric_id", "customer_id", "currency", "unit_price", "effective_from", "effective_to", "model",
                   "package_size"),
    "statuses.csv": ("source", "status", "effect"),
    "issuer.csv": ("name", "address", "tax_id", "number_prefix", "payment_terms_days"),
    "price_tiers.csv": ("metric_id", "customer_id", "currency", "effective_from", "up_to", "unit_price", "flat_fee"),
    "commitments.csv": ("customer_id", "currency", "minimum_amount", "effective_from", "effective_to"),
}
OPTIONAL = {("customers.csv", "timezone"), ("meters.csv", "property"), ("prices.csv", "customer_id"),
            ("prices.csv", "effective_from"), ("prices.csv", "effective_to"), ("customers.csv", "address"),
            ("customers.csv", "tax_id"), ("issuer.csv", "address"), ("issuer.csv", "tax_id"),
            ("prices.csv", "model"), ("prices.csv", "package_size"), ("prices.csv", "unit_price"),
            ("price_tiers.csv", "customer_id"), ("price_tiers.csv", "effective_from"), ("price_tiers.csv", "up_to"),
            ("price_tiers.csv", "flat_fee"), ("commitments.csv", "effective_from"), ("commitments.csv", "effective_to")}
# Columns a file may leave out of its header (read as blank), and files a folder may leave out: a
# reference folder from before the invoice lifecycle (SPEC §7) is still valid; closing needs issuer.csv.
ABSENT_COLUMNS = {("customers.csv", "address"), ("customers.csv", "tax_id"), ("prices.csv", "model"),
                  ("prices.csv", "package_size")}
ABSENT_FILES = {"issuer.csv", "price_tiers.csv", "commitments.csv"}  # absent: none of its kind
NUMBER_PREFIX = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$"
MAX_PAYMENT_TERMS_DAYS = 3650

_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATES = ("effective_from", "effective_to")


class ReferenceDataError(Exception):
    """Raised with every problem found; str(e) lists one problem per line as '<file>, row <n>: <problem>'."""

    problems: list[str]

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Reference:
    """Validated reference data. All columns are String unless noted; rows keep their file order.

    customers: customer_id, name, currency, timezone (blank -> "UTC"), minor_units Int8 (ISO 4217).
    customer_keys: source, source_customer_key, customer_id.
    meters: source, event_type, metric_id, aggregation, property (null when blank).
    prices: metric_id, customer_id (null = default row), currency, unit_price Decimal(38, 18),
        effective_from Date, effective_to Date (null = open; from inclusive, to exclusive).
    statuses: source, status, effect.
    issuer: one row of name, address, tax_id, number_prefix, payment_terms_days (Int32); None without
        issuer.csv. customers also carry address and tax_id (null when blank or absent).
    """

    customers: pl.DataFrame
    customer_keys: pl.DataFrame
    meters: pl.DataFrame
    prices: pl.DataFrame
    statuses: pl.DataFrame
    issuer: pl.DataFrame | None = None
    price_tiers: pl.DataFrame | None = None
    commitments: pl.DataFrame | None = None


class _Problems:
    """Collects problems; `flag` reports a message for every row of a frame matching a condition."""

    def __init__(self) -> None:
        self._found: list[tuple[int, int, str]] = []

    def add(self, file: str, row: int | None, problem: str) -> None:
        where = file if row is None else f"{file}, row {row}"
        self._found.append((list(COLUMNS).index(file), row or 0, f"{where}: {problem}"))

    def flag(self, file: str, df: pl.DataFrame, condition: pl.Expr, message: pl.Expr) -> None:
        for row, text in df.filter(condition).select("row", message).iter_rows():
            self.add(file, row, text)

    def sorted(self) -> list[str]:
        return [text for *_, text in sorted(self._found, key=lambda found: found[:2])]


def load_reference(directory: Path) -> Reference:
    """Read and validate `<directory>/*.csv`; raise ReferenceDataError listing every problem."""
    problems = _Problems()
    frames = {file: _read_csv(Path(directory) / file, problems) for file in COLUMNS}
    for file, df in frames.items():
        for column in COLUMNS[file] if df is not None else ():
            if (file, column) not in OPTIONAL:
                problems.flag(file, df, pl.col(column).is_null(), pl.lit(f"{column} is blank"))
    customers, keys, meters, prices, statuses, issuer, tiers, commitments = frames.values()
    known = None if customers is None else customers.drop_nulls("customer_id").unique("customer_id", keep="first")
    if customers is not None:
        _check_currency(customers, "customers.csv", problems)
        problems.flag("customers.csv", customers, ~pl.col("timezone").is_in(_timezones()),
                      pl.format("unknown IANA timezone '{}'", "timezone"))
        _check_duplicates(customers, "customers.csv", ("customer_id",), problems)
    if keys is not None:
        _check_source(keys, "customer_keys.csv", SOURCES, problems)
        _check_known_customer(keys, "customer_keys.csv", known, problems)
        _check_duplicates(keys, "customer_keys.csv", ("source", "source_customer_key"), problems)
    if meters is not None:
        _check_meters(meters, problems)
    if prices is not None:
        prices = _check_prices(reference_pricing.check_models(prices, problems), known, problems)
        tiers = reference_pricing.check_tiers(tiers, prices, problems)
    if tiers is not None and "row" in tiers.columns:
        tiers = None  # prices.csv could not be read: its tiers cannot be matched
    if commitments is not None:
        _check_currency(commitments, "commitments.csv", problems)
        _check_known_customer(commitments, "commitments.csv", known, problems)
        _check_customer_currency(commitments, "commitments.csv", known, problems)
    commitments = reference_pricing.check_commitments(commitments, problems)
    if statuses is not None:
        _check_source(statuses, "statuses.csv", STATUS_SOURCES, problems)
        problems.flag("statuses.csv", statuses, ~pl.col("effect").is_in(EFFECTS),
                      pl.format("unknown effect '{}' (expected bill or void)", "effect"))
        _check_duplicates(statuses, "statuses.csv", ("source", "status"), problems)
    if issuer is not None:
        issuer = _check_issuer(issuer, problems)

    if found := problems.sorted():
        raise ReferenceDataError(found)
    minor_units = pl.col("currency").replace_strict(CURRENCY_MINOR_UNITS, return_dtype=pl.Int8)
    return Reference(
        customers=customers.select(*COLUMNS["customers.csv"], minor_units=minor_units)
        .with_columns(pl.col("timezone").fill_null("UTC")),
        customer_keys=keys.select(COLUMNS["customer_keys.csv"]),
        meters=meters.select(COLUMNS["meters.csv"]),
        prices=prices.select(COLUMNS["prices.csv"]),
        statuses=statuses.select(COLUMNS["statuses.csv"]),
        issuer=None if issuer is None else issuer.select(COLUMNS["issuer.csv"]),
        price_tiers=tiers,
        commitments=commitments,
    )


def _check_issuer(issuer: pl.DataFrame, problems: _Problems) -> pl.DataFrame:
    """One row; a number prefix that makes a document number; payment terms in whole days."""
    file = "issuer.csv"
    if issuer.is_empty():
        problems.add(file, None, "no issuer row: issuer.csv holds exactly one")
    problems.flag(file, issuer.slice(1), pl.lit(True), pl.lit("a second issuer row: issuer.csv holds exactly one"))
    problems.flag(file, issuer, pl.col("number_prefix").is_not_null() & ~pl.col("number_prefix").str.contains(NUMBER_PREFIX),
                  pl.format("number_prefix '{}' is not 1 to 20 letters, digits, '-' or '_' (starting with a letter "
                            "or digit)", "number_prefix"))
    terms = pl.col("payment_terms_days").cast(pl.Int32, strict=False)
    problems.flag(file, issuer, pl.col("payment_terms_days").is_not_null()
                  & (~pl.col("payment_terms_days").str.contains(r"^[0-9]+$") | terms.is_null()
                     | (terms > MAX_PAYMENT_TERMS_DAYS)),
                  pl.format(f"payment_terms_days '{{}}' is not a whole number of days from 0 to "
                            f"{MAX_PAYMENT_TERMS_DAYS}", "payment_terms_days"))
    return issuer.with_columns(payment_terms_days=terms)


def _read_csv(path: Path, problems: _Problems) -> pl.DataFrame | None:
    """The file's cells as String columns (blank -> null) plus `row`, its line number.

    Returns None, after reporting why, when the file is missing, undecodable, malformed or lacks
    a column; an unexpected extra column is reported, and the rest of the file is still checked.
    """
    file, expected = path.name, COLUMNS[path.name]
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        if file not in ABSENT_FILES:
            problems.add(file, None, f"file not found in {path.parent}")
        return None
    except UnicodeDecodeError as e:
        problems.add(file, e.object[: e.start].count(b"\n") + 1, "not valid UTF-8")
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[list[object]] = []
    try:
        header = [name.strip() for name in next(reader, [])]
        missing = [c for c in expected if c not in header and (file, c) not in ABSENT_COLUMNS]
        unexpected = [c or "(blank)" for c in header if c not in expected]
        repeated = sorted({c for c in header if header.count(c) > 1})
        for label, names in (("missing", missing), ("unexpected", unexpected), ("repeated", repeated)):
            if names:
                problems.add(file, 1, f"{label} column(s) {', '.join(names)}; expected {', '.join(expected)}")
        if missing or repeated:
            return None
        line = reader.line_num
        for cells in reader:
            row, line = line + 1, reader.line_num
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if len(cells) != len(header):
                problems.add(file, row, f"has {len(cells)} cells, expected {len(header)}")
                continue
            values = dict(zip(header, cells))
            records.append([row, *(values.get(c) or None for c in expected)])
    except csv.Error as e:
        problems.add(file, reader.line_num, f"malformed CSV: {e}")
        return None
    return pl.DataFrame(records, schema={"row": pl.Int64, **dict.fromkeys(expected, pl.String)}, orient="row")


@cache
def _timezones() -> list[str]:
    """IANA zone names, from the tzdata package when installed (the same on every machine)."""
    try:
        zones = set(resources.files("tzdata").joinpath("zones").read_text().split())
    except ModuleNotFoundError:
        zones = zoneinfo.available_timezones() - {"localtime"}
    return sorted(zones - {"Factory"})


def _check_meters(df: pl.DataFrame, problems: _Problems) -> None:
    file = "meters.csv"
    _check_source(df, file, SOURCES, problems)
    problems.flag(file, df, ~pl.col("aggregation").is_in(AGGREGATIONS), pl.format(
        "unknown aggregation '{}' (expected {})", "aggregation", pl.lit(", ".join(AGGREGATIONS))))
    _check_duplicates(df, file, ("source", "event_type"), problems)

    valid = df.filter(pl.col("source").is_in(SOURCES), pl.col("aggregation").is_in(AGGREGATIONS))
    needs_property = (pl.col("source") == "sequence") & (pl.col("aggregation") != "count")
    problems.flag(file, valid, needs_property & pl.col("property").is_null(), pl.format(
        "property is blank; a sequence meter with aggregation {} needs the eventProperties key", "aggregation"))
    problems.flag(file, valid, ~needs_property & pl.col("property").is_not_null(), pl.format(
        "property must be blank for a {} meter with aggregation {} (got '{}')",
        "source", "aggregation", "property"))

    by_metric = valid.drop_nulls("metric_id").with_columns(
        first_row=pl.col("row").first().over("metric_id"),
        first_aggregation=pl.col("aggregation").first().over("metric_id"),
    )
    problems.flag(file, by_metric, pl.col("aggregation") != pl.col("first_aggregation"), pl.format(
        "metric {} is aggregated by {} here but by {} in row {}",
        "metric_id", "aggregation", "first_aggregation", "first_row"))


def _check_prices(df: pl.DataFrame, known: pl.DataFrame | None, problems: _Problems) -> pl.DataFrame:
    """Check prices.csv; return it with unit_price as Decimal(38, 18) and the dates as Date."""
    file, price = "prices.csv", pl.col("unit_price")
    plain = price.str.contains(_DECIMAL)
    _check_currency(df, file, problems)
    _check_known_customer(df, file, known, problems)
    problems.flag(file, df, ~plain,
                  pl.format("unit_price '{}' is not a plain non-negative decimal", price))
    problems.flag(file, df, plain & (price.str.extract(r"\.([0-9]+)$").str.len_chars() > 18),
                  pl.format("unit_price {} has more than 18 fractional digits", price))
    problems.flag(file, df, plain & (price.str.extract(r"^0*([0-9]+)").str.len_chars() > 20),
                  pl.format("unit_price {} has more than 20 integer digits", price))
    df = df.with_columns(
        unit_price=pl.when(plain).then(price).str.to_decimal(scale=18).cast(pl.Decimal(38, 18)),
        **{f"{c}_text": pl.col(c) for c in _DATES},
        **{c: pl.when(pl.col(c).str.contains(_ISO_DATE)).then(pl.col(c)).str.to_date("%Y-%m-%d", strict=False)
           for c in _DATES},
    )
    for c in _DATES:
        problems.flag(file, df, pl.col(f"{c}_text").is_not_null() & pl.col(c).is_null(),
                      pl.format("{} '{}' is not a date (YYYY-MM-DD)", pl.lit(c), f"{c}_text"))
    problems.flag(file, df, pl.col("effective_from") >= pl.col("effective_to"),
                  pl.format("effective_from {} is not before effective_to {}", *_DATES))
    _check_customer_currency(df, file, known, problems)
    _check_overlaps(df, problems)
    return df


def _check_customer_currency(df: pl.DataFrame, file: str, known: pl.DataFrame | None, problems: _Problems) -> None:
    if known is not None:
        with_customer = df.join(known.select("customer_id", customer_currency="currency"), on="customer_id")
        problems.flag(file, with_customer, pl.col("currency") != pl.col("customer_currency"), pl.format(
            "currency {} differs from customer {}'s currency {}", "currency", "customer_id", "customer_currency"))


def _check_overlaps(df: pl.DataFrame, problems: _Problems) -> None:
    """Report each price row whose range overlaps an earlier row's for the same (metric, customer, currency)."""
    key = ["metric_id", "customer_id", "currency"]
    dated = df.filter(
        pl.col("metric_id").is_not_null(),
        pl.col("currency").is_not_null(),
        *[pl.col(f"{c}_text").is_null() | pl.col(c).is_not_null() for c in _DATES],
        (pl.col("effective_from") < pl.col("effective_to")).fill_null(True),
    ).select(
        *key, "row",
        start=pl.col("effective_from").fill_null(date.min),
        end=pl.col("effective_to").fill_null(date.max),
        range=pl.format("{}..{}", *[pl.col(f"{c}_text").fill_null("open") for c in _DATES]),
    )
    pairs = dated.join(dated, on=key, nulls_equal=True, suffix="_earlier").filter(
        pl.col("row_earlier") < pl.col("row"),
        pl.col("start") < pl.col("end_earlier"),
        pl.col("start_earlier") < pl.col("end"),
    ).sort("row", "row_earlier")
    customer = pl.format("customer {}", "customer_id").fill_null("default")
    problems.flag("prices.csv", pairs, pl.lit(True), pl.format(
        "overlaps row {} for (metric {}, {}, {}): {} and {}",
        "row_earlier", "metric_id", customer, "currency", "range_earlier", "range"))


def _check_currency(df: pl.DataFrame, file: str, problems: _Problems) -> None:
    problems.flag(file, df, ~pl.col("currency").is_in(list(CURRENCY_MINOR_UNITS)),
                  pl.format("unknown currency code '{}' (ISO 4217, upper case)", "currency"))


def _check_source(df: pl.DataFrame, file: str, allowed: tuple[str, ...], problems: _Problems) -> None:
    source = pl.col("source")
    problems.flag(file, df, ~source.is_in(SOURCES), pl.format(
        "unknown source '{}' (expected one of {})", source, pl.lit(", ".join(SOURCES))))
    problems.flag(file, df, source.is_in(SOURCES) & ~source.is_in(allowed), pl.format(
        "source {} may not be named in {} (only {})", source, pl.lit(file), pl.lit(", ".join(allowed))))


def _check_known_customer(df: pl.DataFrame, file: str, known: pl.DataFrame | None, problems: _Problems) -> None:
    if known is not None:
        problems.flag(file, df, ~pl.col("customer_id").is_in(known["customer_id"].implode()),
                      pl.format("unknown customer {} (not in customers.csv)", "customer_id"))


def _check_duplicates(df: pl.DataFrame, file: str, key: tuple[str, ...], problems: _Problems) -> None:
    """Report every row whose key (no cell of it blank) already appeared in an earlier row."""
    described = pl.format(", ".join(f"{c} {{}}" for c in key), *key)
    keyed = df.drop_nulls(list(key)).with_columns(first_row=pl.col("row").min().over(key))
    problems.flag(file, keyed, pl.col("row") != pl.col("first_row"),
                  pl.format("duplicate key ({}): already in row {}", described, "first_row"))
