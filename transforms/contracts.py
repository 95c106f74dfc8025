"""Pandera contracts (polars backend) for the output of each stage: raw, staging, priced usage, invoices.

Money and quantities must be DECIMAL with the exact precision and scale below; a float anywhere in
these columns fails the contract.

A contract states what the rules produce, so it never fails on a record the rules quarantined: a
rule on a value (a non-negative price or quantity) applies to the lines without a reason (staging) or
whose outcome is not ``quarantined`` (priced usage; for a sequence quantity, which the meter reads
after keys and status, the billed records). Keys, types and the outcome rules apply to every
line.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from transforms.batches import BATCH_ROWS
from transforms.intermediate.pricing import RATED_MODELS
from transforms.marts.invoices import MONEY, QUANTITY
from transforms.outcomes import OUTCOMES, REASONS
from transforms.raw.dump_files import SOURCES

def _not_negative(column: str, applies: pl.Expr) -> pl.Expr:
    """``column`` is absent or not negative on the rows where ``applies`` (a rule's condition) holds."""
    return ~applies.fill_null(True) | pl.col(column).is_null() | (pl.col(column) >= 0)


def _quantity_judged() -> pl.Expr:
    """The records whose quantity the rules have judged: every record that stands, except that a sequence
    quantity is read from ``eventProperties`` by the meter (step 10), after keys and status (steps 7–8),
    so a superseded, duplicate, voided or unmetered sequence record may carry any number there."""
    return (pl.col("outcome") == "billed") | ((pl.col("outcome") != "quarantined") & (pl.col("source") != "sequence"))


RAW_LINES = pa.DataFrameSchema(
    {
        "source_file": pa.Column(str),
        "file_sha256": pa.Column(str, pa.Check.str_matches(r"^[0-9a-f]{64}$")),
        "line_number": pa.Column(pl.Int64, pa.Check.ge(1)),
        "bearer_token_free": pa.Column(bool, pa.Check.eq(True, error="a bearer token survived redaction")),
        "utf8_valid": pa.Column(bool),
    },
    unique=["source_file", "line_number"],
    # Computed where the lines are, in DuckDB: batches of whole envelopes (paygentic's hold batches of up
    # to 1000 events, some of several MB) would have to be sorted and handed over whole. The bare word is
    # looked for first: RE2 scans for it about five times as fast as for the pattern that starts with \b.
    # (A CASE, not an AND: DuckDB computes both sides of an AND in a projection.)
    metadata={"derived": {"bearer_token_free": r"CASE WHEN regexp_matches(envelope, '(?i)bearer') "
                                               r"THEN NOT regexp_matches(envelope, '(?i)\bbearer\s+[a-z0-9_\-.]{6,}') "
                                               r"ELSE true END"}},
)

STAGED_LINES = pa.DataFrameSchema(
    {
        "source_file": pa.Column(str),
        "line_number": pa.Column(pl.Int64, pa.Check.ge(1)),
        "record_index": pa.Column(pl.Int32, pa.Check.ge(0)),
        "property_index": pa.Column(pl.Int32, pa.Check.ge(0)),
        "reason": pa.Column(str, pa.Check.isin(REASONS[:4]), nullable=True),
        "quantity": pa.Column(QUANTITY, nullable=True),
        "unit_price": pa.Column(QUANTITY, nullable=True),
    },
    checks=[
        pa.Check(lambda d: d.lazyframe.select(_not_negative("unit_price", pl.col("reason").is_null())),
                 error="a line the rules did not quarantine has no negative unit price"),
        pa.Check(lambda d: d.lazyframe.select(_not_negative("quantity", pl.col("reason").is_null())),
                 error="a line the rules did not quarantine has no negative quantity"),
    ],
    unique=["source_file", "line_number", "record_index", "property_index"],
)

PRICED_USAGE = pa.DataFrameSchema(
    {
        "source": pa.Column(str, pa.Check.isin(list(SOURCES))),
        "property_index": pa.Column(pl.Int32, pa.Check.ge(0)),
        "outcome": pa.Column(str, pa.Check.isin(OUTCOMES)),
        "reason": pa.Column(str, pa.Check.isin(REASONS), nullable=True),
        "quantity": pa.Column(QUANTITY, nullable=True),
        "unit_price": pa.Column(QUANTITY, nullable=True),
        "price_source": pa.Column(str, pa.Check.isin(["event", "price_book"]), nullable=True),
    },
    checks=[
        pa.Check(lambda d: d.lazyframe.select(_not_negative("unit_price", pl.col("outcome") != "quarantined")),
                 error="a record the rules did not quarantine has no negative unit price"),
        pa.Check(lambda d: d.lazyframe.select(_not_negative("quantity", _quantity_judged())),
                 error="a record whose quantity the rules judged, and did not quarantine, has no negative quantity"),
        pa.Check(lambda d: d.lazyframe.select(
            (pl.col("outcome") == "quarantined") == pl.col("reason").is_not_null()),
            error="a record is quarantined exactly when it has a reason"),
        pa.Check(lambda d: d.lazyframe.select(
            (pl.col("outcome") != "billed") | (
                (pl.col("unit_price").is_not_null() | pl.col("price_model").is_in(RATED_MODELS))
                & pl.col("customer_id").is_not_null() & pl.col("metric_id").is_not_null()
                & pl.col("period_start").is_not_null())),
            error="a billed line has a customer, metric, period and a unit price, or a price row that rates the month"),
        # One grouping for both record-level rules: grouping is most of a contract's cost.
        pa.Check(lambda d: d.lazyframe.select(
            ((pl.col("outcome").n_unique() == 1) & (pl.col("property_index") == 0).any())
            .over("source_file", "line_number", "record_index")),
            error="every record has one outcome on all its lines, and a first usage line (property_index 0)"),
        pa.Check(lambda d: d.lazyframe.select((pl.col("source") == "paygentic") | (pl.col("property_index") == 0)),
                 error="outside paygentic batches a record is one usage line"),
    ],
    unique=["source_file", "line_number", "record_index", "property_index"],
    # A quarter of the default batch: a full rebuild checks every priced line, and at 10M records (12.5M
    # lines) 200,000-row batches made this check the run's peak (1,164 MiB, against 878 MiB at 1M);
    # 100,000 still 1,061 MiB. Alone, 12.5M lines took 15.4 s at 200,000 and 23.5 s at 50,000.
    metadata={"reads": ["customer_id", "metric_id", "period_start", "price_model"], "batch_rows": 50_000},
)

INVOICE_LINES = pa.DataFrameSchema(
    {
        "invoice_id": pa.Column(str),
        "customer_id": pa.Column(str),
        "period_start": pa.Column(pl.Date),
        "metric_id": pa.Column(str),
        "unit_price": pa.Column(QUANTITY, pa.Check.ge(0)),
        "quantity": pa.Column(QUANTITY, pa.Check.ge(0)),
        "amount": pa.Column(MONEY, pa.Check.ge(0)),
        "currency": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{3}$")),
        "event_count": pa.Column(pl.Int64, pa.Check.ge(0)),  # 0 on a flat fee or minimum line
        "kind": pa.Column(str, pa.Check.isin(["usage", "flat_fee", "minimum"])),
        "tier": pa.Column(pl.Int32, pa.Check.ge(1), nullable=True),
    },
    unique=["invoice_id", "metric_id", "kind", "tier", "unit_price"],
)

INVOICES = pa.DataFrameSchema(
    {
        "invoice_id": pa.Column(str, unique=True),
        "customer_id": pa.Column(str),
        "period_start": pa.Column(pl.Date),
        "period_end": pa.Column(pl.Date),
        "currency": pa.Column(str),
        "total": pa.Column(MONEY, pa.Check.ge(0)),
        "line_count": pa.Column(pl.Int64, pa.Check.ge(1)),
        "event_count": pa.Column(pl.Int64, pa.Check.ge(0)),  # 0: a month a minimum commitment alone invoices
    },
)


def columns(schema: pa.DataFrameSchema) -> list[str]:
    """The columns a contract reads (as SQL select items): its own, its unique key, and those its
    frame-level checks use; a column the contract derives is computed in the database."""
    wanted = [*schema.columns, *(schema.unique or []), *((schema.metadata or {}).get("reads", []))]
    derived = (schema.metadata or {}).get("derived", {})
    return [f"{derived[c]} AS {c}" if c in derived else c for c in dict.fromkeys(["source_file", *wanted])]


def batch_rows(schema: pa.DataFrameSchema) -> int:
    """Rows per batch of whole dump lines this contract is validated in."""
    return (schema.metadata or {}).get("batch_rows", BATCH_ROWS)


def failures(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame | None:
    """Every contract failure of ``frame`` (``failure_cases``), or None when it holds.

    An empty frame has no values to check: as a LazyFrame, Pandera checks its columns and types only,
    without the query per check it runs on data. Those queries (about fifty for priced usage) run on
    Polars' in-memory engine: the batch is in memory already, and the streaming engine, Polars' default,
    costs about 0.3 ms more to start each (10 rows: 11 ms against 22 ms a validation; 50,000 rows: 23–28
    ms against 38–77 ms; 200,000 rows: 73–80 ms against 87–102 ms)."""
    try:
        with pl.Config(engine_affinity="in-memory"):
            schema.validate(frame.lazy() if frame.is_empty() else frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return errors.failure_cases
    return None
