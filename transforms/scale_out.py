"""Invoices computed partition by partition from a Parquet snapshot, so the work can spread over
processes or machines that never open the working database.

A partition is one billing month × one customer shard. The shard is a stable hash of the customer id
(MD5, not DuckDB's ``hash()``, whose values may change between versions), so all of a customer's lines
for a month are in one partition: its invoice lines and invoice are whole there, and the union of the
partitions' invoices equals ``invoices_for`` over all months in one process.

The snapshot is a hive-partitioned folder, ``<folder>/period_start=YYYY-MM-DD/shard=N/*.parquet``, of
every column of the billed lines: the marts may read any of them, and Parquet is columnar, so a reader
pays only for the columns its query uses. Every file also holds ``period_start`` and ``shard``, so a
reader gets their types from the file, not from directory names.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from transforms.marts import invoices_for

EXPORT = """
COPY (
    SELECT *, (md5_number(customer_id) % ?::UINTEGER)::INTEGER AS shard
    FROM int_priced_usage WHERE outcome = 'billed'
) TO ? (FORMAT parquet, PARTITION_BY (period_start, shard), WRITE_PARTITION_COLUMNS true, OVERWRITE true)
"""


RATING_TABLES = ("ref_prices", "ref_price_tiers")


def export_billed_usage(con: duckdb.DuckDBPyConnection, folder: Path, shards: int) -> list[tuple[date, int]]:
    """Write the billed lines of ``int_priced_usage`` to ``folder`` (replacing what it held), split by
    month and customer shard; returns the (month, shard) partitions written, sorted."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, not {shards}")
    folder.mkdir(parents=True, exist_ok=True)
    con.execute(EXPORT, [shards, str(folder)])
    for table in RATING_TABLES:  # what rating a month reads beside its usage (SPEC §8)
        con.execute(f"COPY {table} TO ? (FORMAT parquet)", [str(folder / f"{table}.parquet")])
    if not any(folder.glob("*/*/*.parquet")):
        return []
    return [tuple(row) for row in con.sql(
        "SELECT DISTINCT period_start, shard FROM read_parquet(?, hive_partitioning = false) ORDER BY ALL",
        params=[str(folder / "*" / "*" / "*.parquet")],
    ).fetchall()]


def partition_files(folder: Path, period: date, shard: int) -> list[str]:
    return sorted(str(p) for p in (folder / f"period_start={period.isoformat()}" / f"shard={shard}").glob("*.parquet"))


def shard_invoices(folder: Path, period: date, shard: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Invoice lines and invoices of one partition of a snapshot, read from its Parquet files only."""
    files = partition_files(folder, period, shard)
    if not files:
        raise FileNotFoundError(f"no Parquet files for {period} shard {shard} in {folder}")
    with duckdb.connect() as con:
        con.read_parquet(files, hive_partitioning=False).create_view("int_priced_usage")
        for table in RATING_TABLES:
            con.read_parquet(str(folder / f"{table}.parquet")).create_view(table)
        # A minimum commitment spans months a shard may not hold: the invoice job applies them, not the fan-out.
        con.execute("CREATE VIEW ref_commitments AS SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS currency, "
                    "NULL::DECIMAL(38, 18) AS minimum_amount, NULL::DATE AS effective_from, NULL::DATE AS effective_to "
                    "WHERE false")
        return invoices_for(con, [period])
