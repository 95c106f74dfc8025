"""Marts: what analysts query (SPEC §5).

``usage_events``, ``quarantine`` and ``reconciliation`` are views over ``int_priced_usage`` (the
reconciliation over its outcome counts, ``int_outcome_counts``) in the working database, and
``customers`` a view over ``ref_customers`` (what the invoice documents show of a customer); the
published warehouse holds them as tables. Invoices are tables, rebuilt one billing month at a time:
the months pricing marked stale, or the months a run asks for.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import duckdb
import polars as pl

from transforms import audit
from transforms.changes import rows_on_lines
from transforms.intermediate import count_outcomes
from transforms.marts import rating
from transforms.marts.invoices import build_invoice_lines, build_invoices, unfit_invoices
from transforms.sql_files import read_sql
from transforms.transactions import transaction

VIEW_MODELS = ("usage_events", "quarantine", "reconciliation", "customers")
RECORD_VIEWS = ("usage_events", "quarantine")  # one row per usage line or record
INVOICE_TABLES = ("invoice_lines", "invoices")


def define_view(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """(Re)define one of ``VIEW_MODELS``; returns its row count.

    A view of ``RECORD_VIEWS`` is also a table macro, ``<name>_since(change_id)``: its rows of the lines
    resolved after that change, which publishing reads without scanning the whole priced usage.
    """
    if name not in VIEW_MODELS:
        raise ValueError(name)
    sql = read_sql(__file__, name + ".sql")
    if name == "reconciliation":
        count_outcomes(con, if_missing=True)
    if name in RECORD_VIEWS:
        if name == "quarantine":
            _define_macro(con, "quarantined_records", read_sql(__file__, "quarantined_records.sql"))
        _define_macro(con, name, sql)
        sql = f"SELECT * FROM {name}_since(0)"
    con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
    return con.sql(f"SELECT count(*) FROM {name}").fetchall()[0][0]


def _define_macro(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    con.execute(f"CREATE OR REPLACE MACRO {name}_since(since) AS TABLE {sql}")


def record_rows(con: duckdb.DuckDBPyConnection, name: str, since: int = 0,
                limit: int | None = None) -> tuple[str, list]:
    """The rows of the record view ``name`` on the lines resolved after change ``since`` (or its first
    ``limit`` records), as a relation and its parameters; for a few rows, after ``define_view``.

    A quarantined record's raw line is read by ``rowid`` (``rows_on_lines``): the view's join reads the
    envelope of every raw line, which is most of the cost when a run changes a few records.
    """
    if name not in RECORD_VIEWS:
        raise ValueError(name)
    order = "ORDER BY source, source_file, line_number, record_index"
    if name == "usage_events":
        order += ", property_index"
    first, params = ("", [since]) if limit is None else (f"{order} LIMIT ?", [since, limit])
    if name != "quarantine":
        return f"(SELECT * FROM {name}_since(?) {first})", params
    con.execute(f"CREATE OR REPLACE TEMP TABLE quarantined_records AS "
                f"SELECT * FROM quarantined_records_since(?) {first}", params)
    raw, raw_params = rows_on_lines(con, "raw_", "quarantined_records")
    joined = (f"SELECT q.*, r.envelope AS raw FROM quarantined_records q "
              f"JOIN {raw} r USING (source, source_file, line_number) {'' if limit is None else order}")
    return f"({joined})", raw_params


CHUNK_BYTES = 64 << 20  # raw line bytes per chunk of published quarantine lines
# The published quarantine (SPEC §5 ``quarantine``) is a view over two tables: its records, and each of
# their raw lines once. A paygentic batch line of several MB with hundreds of quarantined events was
# otherwise stored hundreds of times, and DuckDB holds a row group's strings at once to checkpoint it.
QUARANTINE_TABLES = ("quarantine_records", "quarantine_lines")
PUBLISHED_RECORD_TABLES = ("usage_events", *QUARANTINE_TABLES)


def record_chunks(con: duckdb.DuckDBPyConnection, table: str, since: int = 0) -> Iterator[tuple[str, list]]:
    """The rows of the published record table ``table`` (``PUBLISHED_RECORD_TABLES``) on the lines resolved
    after change ``since``, as relations and their parameters, each valid until the next is drawn. The
    raw lines of ``quarantine_lines`` come in chunks of about ``CHUNK_BYTES``."""
    if table == "usage_events":
        yield record_rows(con, "usage_events", since)
        return
    if table == "quarantine_records":
        yield "(SELECT * FROM quarantined_records_since(?))", [since]
        return
    if table != "quarantine_lines":
        raise ValueError(table)
    con.execute("CREATE OR REPLACE TEMP TABLE quarantined_all AS SELECT DISTINCT source, source_file, line_number "
                "FROM quarantined_records_since(?)", [since])
    raw, raw_params = rows_on_lines(con, "raw_", "quarantined_all")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE quarantine_chunks AS
                    SELECT source, source_file, line_number,
                           sum(strlen(envelope)) OVER (ORDER BY source, source_file, line_number) // ?::BIGINT AS chunk
                    FROM {raw}""", [CHUNK_BYTES, *raw_params])
    chunks = [c for (c,) in con.sql("SELECT DISTINCT chunk FROM quarantine_chunks ORDER BY 1").fetchall()]
    for chunk in chunks:
        con.execute("CREATE OR REPLACE TEMP TABLE quarantined_lines AS SELECT * EXCLUDE (chunk) "
                    "FROM quarantine_chunks WHERE chunk = ?", [chunk])
        rows, params = rows_on_lines(con, "raw_", "quarantined_lines")
        yield f"(SELECT source, source_file, line_number, envelope AS raw FROM {rows})", params


def stale_periods(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Months whose invoices no longer match the priced usage, have not passed their checks since they
    were last rewritten (``audit.unchecked_periods``), or lack the invoice a minimum commitment makes."""
    stale = [row[0] for row in con.sql("SELECT period_start FROM int_stale_periods ORDER BY 1").fetchall()]
    committed = [row[0] for row in con.sql(read_sql(__file__, "commitment_months.sql")).fetchall()]
    return sorted({*stale, *committed, *audit.unchecked_periods(con)})


def billing_month_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every month with invoices or waiting for them (``YYYY-MM-01``, in calendar order): the months the
    invoice stage is partitioned by. Years 0001–9999 only (``metered_lines.sql``), so each key is a
    Python ``date`` too."""
    return [key for (key,) in con.sql(
        "SELECT DISTINCT strftime(period_start, '%Y-%m-%d') FROM "
        "(SELECT period_start FROM int_stale_periods UNION ALL SELECT period_start FROM invoices) ORDER BY 1"
    ).fetchall()]


def invoices_for(con: duckdb.DuckDBPyConnection, periods: list[date]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Invoice lines and invoices of the given periods (first days of months): usage priced per unit or
    rated by its price row's model, then the minimum commitments (``rating``).

    Pricing holds every invoice that would not fit its columns (``transforms.holds``), so one that does
    not here is an error, not a run that publishes less."""
    aggregated = month_usage(con, periods)
    records = aggregated.group_by("customer_id", "period_start").agg(pl.col("record_count").sum().alias("event_count"))
    rated, usage = usage_lines(con, aggregated)
    unfit = unfit_invoices(aggregated, usage)
    if unfit:
        raise ValueError(f"{len(unfit)} invoices do not fit their columns and were not held: "
                         + "; ".join(f"{invoice}: {problem}" for invoice, problem in list(unfit.items())[:5]))
    totals = usage.group_by("customer_id", "period_start").agg(pl.col("amount").sum().alias("total"))
    span = con.sql("SELECT min(period_start), max(period_start) FROM int_priced_usage WHERE outcome = 'billed'"
                   ).fetchall()[0]
    commitments = con.sql("SELECT * FROM ref_commitments").pl()
    minimums = rating.minimum_lines(totals, commitments, periods, span, rated.schema)
    lines = build_invoice_lines(pl.concat([rated, minimums])) if minimums.height else usage
    return lines, build_invoices(lines, records)


def month_usage(con: duckdb.DuckDBPyConnection, periods: list[date], with_held: bool = False) -> pl.DataFrame:
    """The billed usage of ``periods`` per invoice line before rating (``invoice_lines.sql``), with the
    held usage too if ``with_held``. Summed as DuckDB sums, or where a sum overflows, again with the sum
    that gives NULL instead (``month_sum_unbounded.sql``): twice as slow, and needed only then."""
    con.execute(read_sql(__file__, "month_sum.sql"))
    try:
        return con.sql(read_sql(__file__, "invoice_lines.sql"), params=[with_held, periods]).pl()
    except duckdb.OutOfRangeException:
        con.execute(read_sql(__file__, "month_sum_unbounded.sql"))
        return con.sql(read_sql(__file__, "invoice_lines.sql"), params=[with_held, periods]).pl()


def usage_lines(con: duckdb.DuckDBPyConnection, aggregated: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``aggregated`` (``month_usage``) rated by the price book's models, before and after amounts (NULL
    where an amount does not fit); lines whose quantity does not fit are left out."""
    tiers = con.sql("SELECT * FROM ref_price_tiers").pl()
    packages = con.sql("SELECT * FROM ref_prices WHERE model = 'package'").pl()
    rated = rating.rate(aggregated.filter(pl.col("quantity").is_not_null()), tiers, packages)
    return rated, build_invoice_lines(rated)


def rebuild_invoices(con: duckdb.DuckDBPyConnection, periods: list[date]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Replace the invoices of ``periods``, all months or none, and clear them from the stale list; they
    stay unchecked (``audit.mark_unchecked``) until the invoice checks pass."""
    lines, invoices = invoices_for(con, periods)
    with transaction(con):
        for table, rows in zip(INVOICE_TABLES, (lines, invoices)):
            con.register("period_rows", rows)
            con.execute(f"DELETE FROM {table} WHERE list_contains(?, period_start)", [periods])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM period_rows")
            con.unregister("period_rows")
        con.execute("DELETE FROM int_stale_periods WHERE list_contains(?, period_start)", [periods])
        audit.mark_unchecked(con, periods)
        con.execute("UPDATE int_invoice_writes SET writes = writes + 1")
    return lines, invoices
