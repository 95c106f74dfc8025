"""Intermediate layer: re-delivery, keys and versions, status, customer, meter, price, period.

Resolution (steps 5–8) is the one step that looks across records. On new staged lines it recomputes
every line that shares a re-delivery group, an idempotency key or a version key with a new line
(closed over those relations, so every group it touches is recomputed whole) and logs those lines as a
change (``transforms.changes``); a first run, or reference data that differ from the last run's, is a
full rebuild. Metering and pricing are functions of each line alone, so they redo only the changed
lines, in one write (``price_usage``). A line's outcome is always computed over every line it can
interact with, so the result never depends on the order or the split of the loads.
"""

from __future__ import annotations

import duckdb
import polars as pl

from transforms.changes import (
    CHANGED_LINES,
    LINE,
    Pending,
    current_reference_fingerprint,
    define_input,
    delete_lines,
    latest_reference_hash,
    mark_applied,
    new_staged_rows,
    next_change_id,
    pending,
    record_change,
    rows_on_lines,
    rows_since,
)
from transforms.intermediate.canonical_json import canonical_json
from transforms.intermediate.pricing import LOOKUP, book_prices
from transforms.sql_files import read_sql
from transforms.transactions import transaction


def find_redeliveries(con: duckdb.DuckDBPyConnection, scope: Pending) -> pl.DataFrame:
    """Lines equal as JSON values to an earlier standing line of the same source (step 6)."""
    con.execute(read_sql(__file__, "redelivery_candidates.sql"))
    relation, params = ("raw_lines", []) if scope.full else rows_on_lines(con, "raw_", "redelivery_candidates")
    define_input(con, "candidate_raw_lines", relation, scope, params)
    candidates = con.sql("""SELECT c.*, r.envelope FROM redelivery_candidates c
                            JOIN candidate_raw_lines r USING (source, source_file, line_number)""").pl()
    schema = {"source": pl.String, "source_file": pl.String, "line_number": pl.Int64,
              "first_file": pl.String, "first_line": pl.Int64}
    if candidates.is_empty():
        return pl.DataFrame(schema=schema)
    canonical = candidates.with_columns(
        pl.col("envelope").map_elements(canonical_json, return_dtype=pl.String).alias("canonical")
    ).sort("received_at", "source_file", "line_number")
    return (
        canonical.with_columns(
            pl.col("source_file").first().over("source", "canonical").alias("first_file"),
            pl.col("line_number").first().over("source", "canonical").alias("first_line"),
        )
        .filter((pl.col("source_file") != pl.col("first_file")) | (pl.col("line_number") != pl.col("first_line")))
        .select(list(schema))
    )


def resolve_events(con: duckdb.DuckDBPyConnection) -> Pending | None:
    """``int_resolved_lines``: steps 5–8; ``outcome`` NULL where the line still stands.

    Returns the change it logged, or None when there was nothing new to resolve.
    """
    fingerprint = current_reference_fingerprint(con)
    full = fingerprint != latest_reference_hash(con) or not _has_change_ids(con)
    if not full and not _scope_new_lines(con):
        return None
    change_id = next_change_id(con)
    scope = Pending(change_id, full)
    relation, params = ("staged_lines", []) if full else rows_on_lines(con, "stg_", "resolve_scope")
    define_input(con, "resolve_input", relation, scope, params)
    con.register("redeliveries", find_redeliveries(con, scope))
    con.execute(read_sql(__file__, "resolve_marked.sql"))
    try:
        with transaction(con):
            _rewrite(con, "int_resolved_lines", read_sql(__file__, "resolve_events.sql"), full, "resolve_scope",
                     [change_id])
            record_change(con, change_id, full, fingerprint, "resolve_scope")
            con.execute("""INSERT OR REPLACE INTO int_resolved_loads
                           SELECT source, max(load_id) FROM staged_lines GROUP BY source""")
    finally:
        con.execute("DROP VIEW resolve_marked")
        con.unregister("redeliveries")
    return Pending(change_id, full)


def _has_change_ids(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the resolved lines carry ``change_id`` (a working database from before it is rebuilt)."""
    return bool(con.sql("""SELECT 1 FROM duckdb_columns() WHERE database_name = current_database()
                           AND schema_name = 'main' AND table_name = 'int_resolved_lines'
                           AND column_name = 'change_id'""").fetchall())


SCOPE_KEYS = "received_at_text, dedup_key, version_key"  # a re-delivery group, an idempotency key, a version key


def _scope_new_lines(con: duckdb.DuckDBPyConnection) -> bool:
    """Fill ``resolve_scope`` with the new staged lines and all they interact with; False if none.

    Closed in rounds (``resolve_scope.sql``) that look up only the keys no round has looked up yet.
    """
    new_rows, params = new_staged_rows(con)
    con.execute(f"CREATE OR REPLACE TEMP TABLE scope_rows AS SELECT {LINE}, {SCOPE_KEYS} FROM {new_rows}", params)
    con.execute(f"CREATE OR REPLACE TEMP TABLE resolve_scope AS SELECT DISTINCT {LINE} FROM scope_rows")
    if not con.sql("SELECT count(*) FROM resolve_scope").fetchall()[0][0]:
        return False
    con.execute("CREATE OR REPLACE TEMP TABLE scope_keys (kind VARCHAR, source VARCHAR, key VARCHAR)")
    while con.execute(read_sql(__file__, "scope_keys.sql")).fetchall()[0][0]:
        con.execute(read_sql(__file__, "resolve_scope.sql"))
    return True


def price_usage(con: duckdb.DuckDBPyConnection) -> Pending | None:
    """``int_priced_usage``: steps 9–11 on the lines of the changes pricing has not applied; every line
    with its final outcome. Marks its months stale.

    Metering (steps 9–10: customer, meter, metered quantity, local billing period) and pricing (step 11)
    are both functions of each line alone, so they are one write of the usage lines: metering is a view
    (``meter_checks.sql``, ``metered_lines.sql``) that pricing reads, not a table of its own, which was a
    full copy of every usage line written only for pricing to read it back.
    """
    change = _pending_input(con, "priced_usage", "meter_input", "int_resolved_lines")
    if change is None:
        return None
    con.execute(read_sql(__file__, "meter_checks.sql"))
    con.execute(f"CREATE OR REPLACE TEMP VIEW metered_lines AS {read_sql(__file__, 'metered_lines.sql')}")
    con.execute(read_sql(__file__, "price_lookups.sql"))
    lookups = con.sql(f"SELECT DISTINCT {', '.join(LOOKUP)} FROM price_lookups").pl()
    prices = con.sql("SELECT * FROM ref_prices").pl()
    book = book_prices(lookups.lazy(), prices.lazy()).collect()
    con.register("book_prices", book)
    con.register("unpriced_lookups", lookups.join(book, on=LOOKUP, how="anti", nulls_equal=True))
    con.execute(read_sql(__file__, "priced_lines.sql"))
    with transaction(con):
        _rewrite(con, "int_priced_usage", read_sql(__file__, "priced_usage.sql"), change.full, CHANGED_LINES)
        count_outcomes(con)
        _mark_stale_periods(con, change)
        mark_applied(con, "priced_usage", change)
    con.execute("DROP VIEW priced_lines")
    con.unregister("book_prices")
    con.unregister("unpriced_lookups")
    return change


def count_outcomes(con: duckdb.DuckDBPyConnection, if_missing: bool = False) -> None:
    """``int_outcome_counts``: records per source and outcome of the priced usage, which the
    reconciliation reads (the marts step makes it ``if_missing`` in a working database from before it)."""
    create = "CREATE TABLE IF NOT EXISTS" if if_missing else "CREATE OR REPLACE TABLE"
    con.execute(f"{create} int_outcome_counts AS {read_sql(__file__, 'outcome_counts.sql')}")


def _mark_stale_periods(con: duckdb.DuckDBPyConnection, change: Pending) -> None:
    """Months whose invoices must be rebuilt: those of the changed lines (a line's month never
    changes while the reference data stay), or on a full rebuild every billed and invoiced month."""
    source = (
        "SELECT period_start FROM int_priced_usage WHERE outcome = 'billed' UNION SELECT period_start FROM invoices"
        if change.full else "SELECT period_start FROM metered_lines WHERE period_start IS NOT NULL"
    )
    con.execute(f"INSERT OR IGNORE INTO int_stale_periods SELECT DISTINCT period_start FROM ({source})")


def _pending_input(con: duckdb.DuckDBPyConnection, consumer: str, view: str, table: str) -> Pending | None:
    """The changes ``consumer`` must apply, with ``view`` over the lines of ``table`` they touch."""
    change = pending(con, consumer)
    if change is not None:
        relation, params = rows_since(table, change)
        define_input(con, view, relation, change, params)
    return change


def _rewrite(con: duckdb.DuckDBPyConnection, table: str, select_sql: str, full: bool, scope: str,
             params: list | None = None) -> None:
    """Rebuild ``table`` from ``select_sql``: whole, or only the lines in ``scope`` (call in a transaction)."""
    if full:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {select_sql}", params or [])
        return
    delete_lines(con, table, scope)
    con.execute(f"INSERT INTO {table} BY NAME {select_sql}", params or [])
