"""Storage: the pipeline's working database and the warehouse file analysts query.

The pipeline keeps every layer in a working DuckDB file of its own (``<db>.state.duckdb``). The
warehouse (``<db>``) is published whole at the end of a run: written to a temporary file beside it,
checkpointed, then renamed over the old one. A rename is atomic, so analysts always see one complete
run; a session that has the old file open keeps reading it, and the pipeline never waits for, nor
locks out, an analyst.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from transforms import intermediate
from transforms.raw.load import create_raw_tables
from transforms.reference import Reference
from transforms.staging import MODELS
from transforms.staging import common as staging_common
from transforms.staging.common import create_staging_table
from transforms.sql_files import read_sql
from transforms.transactions import transaction

PUBLISHED_TABLES = ("invoices", "invoice_lines", "usage_events", "quarantine", "reconciliation")


def state_path(db: Path) -> Path:
    return db.with_name(db.stem + ".state.duckdb")


def connect_state(db: Path) -> duckdb.DuckDBPyConnection:
    """Open the working database with every layer's tables, views and macros in place."""
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(state_path(db)))
    con.execute("SET TimeZone = 'UTC'")
    create_raw_tables(con)
    for model in MODELS.values():
        create_staging_table(con, model)
    con.execute(read_sql(staging_common.__file__, "macros.sql"))
    con.execute(read_sql(intermediate.__file__, "staged_lines.sql"))
    con.execute(read_sql(__file__, "warehouse.sql"))
    return con


def write_reference(con: duckdb.DuckDBPyConnection, reference: Reference) -> None:
    for name in ("customers", "customer_keys", "meters", "prices", "statuses"):
        frame = getattr(reference, name)
        con.register("reference_frame", frame)
        con.execute(f"CREATE OR REPLACE TABLE ref_{name} AS SELECT * FROM reference_frame")
        con.unregister("reference_frame")


def replace_periods(con: duckdb.DuckDBPyConnection, table: str, periods: list[date], rows: pl.DataFrame) -> None:
    """Replace the rows of ``periods`` in ``table`` in one transaction: all or nothing."""
    if table not in ("invoices", "invoice_lines"):
        raise ValueError(table)
    con.register("period_rows", rows)
    try:
        with transaction(con):
            con.execute(f"DELETE FROM {table} WHERE list_contains(?, period_start)", [periods])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM period_rows")
    finally:
        con.unregister("period_rows")


def publish(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    """Write the published tables to a new file and swap it in atomically."""
    tmp = db.with_name(f"{db.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    con.execute("ATTACH ? AS publishing", [str(tmp)])
    try:
        for table in PUBLISHED_TABLES:
            con.execute(f"CREATE TABLE publishing.{table} AS SELECT * FROM main.{table}")
        con.execute("CHECKPOINT publishing")
    finally:
        con.execute("DETACH publishing")
    os.replace(tmp, db)
