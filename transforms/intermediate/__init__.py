"""Intermediate layer: re-delivery, keys and versions, status, customer, meter, price, period.

Each function rebuilds one ``int_*`` table from the staged lines and the reference tables. They are
set-based over all staged lines, so the result depends only on what was loaded, never on the order
or the split of the loads.
"""

from __future__ import annotations

import duckdb
import polars as pl

from transforms.intermediate.canonical_json import canonical_json
from transforms.intermediate.pricing import price_lines
from transforms.sql_files import read_sql


def find_redeliveries(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Lines equal as JSON values to an earlier standing line of the same source (step 6)."""
    candidates = con.sql(read_sql(__file__, "redelivery_candidates.sql")).pl()
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


def resolve_events(con: duckdb.DuckDBPyConnection) -> None:
    """``int_resolved_lines``: steps 5–8; ``outcome`` NULL where the line still stands."""
    con.register("redeliveries", find_redeliveries(con))
    con.execute(
        f"CREATE OR REPLACE TABLE int_resolved_lines AS {read_sql(__file__, 'resolve_events.sql')}"
    )
    con.unregister("redeliveries")


def meter_lines(con: duckdb.DuckDBPyConnection) -> None:
    """``int_metered_lines``: steps 9–10, the metered quantity and the local billing period."""
    con.execute(
        f"CREATE OR REPLACE TABLE int_metered_lines AS {read_sql(__file__, 'metered_lines.sql')}"
    )


def price_usage(con: duckdb.DuckDBPyConnection) -> None:
    """``int_priced_usage``: step 11; every line with its final outcome."""
    lines = con.sql("SELECT * FROM int_metered_lines").pl().lazy()
    prices = con.sql("SELECT * FROM ref_prices").pl().lazy()
    priced = price_lines(lines, prices).collect()
    con.register("priced", priced)
    con.execute("CREATE OR REPLACE TABLE int_priced_usage AS SELECT * FROM priced")
    con.unregister("priced")
