"""Marts: what analysts query (SPEC §5), rebuilt from ``int_priced_usage``."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from transforms.marts.invoices import build_invoice_lines, build_invoices
from transforms.sql_files import read_sql

TABLE_MODELS = ("usage_events", "quarantine", "reconciliation")


def build_table(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Rebuild one of ``TABLE_MODELS`` in one statement; returns its row count."""
    if name not in TABLE_MODELS:
        raise ValueError(name)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS {read_sql(__file__, name + '.sql')}")
    return con.sql(f"SELECT count(*) FROM {name}").fetchall()[0][0]


def billed_lines(con: duckdb.DuckDBPyConnection, periods: list[date]) -> pl.LazyFrame:
    return (
        con.sql(
            "SELECT * FROM int_priced_usage WHERE outcome = 'billed' AND list_contains(?, period_start)",
            params=[periods],
        )
        .pl()
        .lazy()
    )


def invoices_for(con: duckdb.DuckDBPyConnection, periods: list[date]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Invoice lines and invoices of the given periods (first days of months)."""
    billed = billed_lines(con, periods)
    lines = build_invoice_lines(billed)
    return lines, build_invoices(lines, billed)
