"""What SPEC §2's steps 1–4 cost as staging judges them, with nothing else around them.

Each source's raw lines are copied from a working database (``<db>.state.duckdb``, opened read-only)
into memory, then staged as one batch with staging's own code (``staging.common.stage_batch``: the
picks for Python and the vendor model) into an in-memory table, with memory to spare: no raw table to
decompress, no batches, commits or memory bound. It is a lower bound for any design that judges the same
rules with the same SQL, whatever it reads the dumps with. Prints seconds per source; writes nothing.

    python -m benchmarks.staging_rules data/warehouse.state.duckdb [--memory-limit 16GB] [--source S ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

from transforms.sql_files import read_sql
from transforms.staging import MODELS
from transforms.staging import common
from transforms.staging.batches import Batch


def whole_loads(con: duckdb.DuckDBPyConnection, relation: str) -> list[Batch]:
    """One batch per load over every line of ``relation``."""
    rows = con.sql(f"SELECT load_id, min(source_file), max(source_file), count(*), sum(strlen(envelope)) "
                   f"FROM {relation} GROUP BY load_id ORDER BY load_id").fetchall()
    return [Batch(load, first, 0, last, 2**62, size, lines) for load, first, last, lines, size in rows]


def connect(state: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """An in-memory database with staging's macros and the working database ``state`` attached as
    ``state``, read-only."""
    con = duckdb.connect(config={"memory_limit": memory_limit, "preserve_insertion_order": False})
    con.execute("SET TimeZone = 'UTC'")
    con.execute(read_sql(common.__file__, "macros.sql"))
    con.execute("ATTACH ? AS state (READ_ONLY)", [str(state)])
    return con


def stage_alone(con: duckdb.DuckDBPyConnection, source: str, keep: bool = False) -> tuple[float, float, int]:
    """(seconds to copy the source's lines into memory, seconds to stage them, usage lines staged); with
    ``keep`` the staged lines stay in the in-memory ``stg_<source>``."""
    model = MODELS[source]
    start = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TEMP TABLE raw_lines AS FROM state.raw_{source}")
    copied = time.perf_counter() - start
    con.execute(common.staging_table_sql(model))
    con.execute("CREATE OR REPLACE TEMP VIEW raw_source AS FROM raw_lines")
    start = time.perf_counter()
    staged = sum(common.stage_batch(con, model, batch) for batch in whole_loads(con, "raw_lines"))
    seconds = time.perf_counter() - start
    if not keep:
        con.execute(f"DROP TABLE {model.table}")
    con.execute("DROP VIEW raw_source")
    con.execute("DROP TABLE raw_lines")
    return copied, seconds, staged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state", type=Path, help="a working database (<db>.state.duckdb)")
    parser.add_argument("--memory-limit", default="16GB")
    parser.add_argument("--source", action="append", choices=list(MODELS))
    args = parser.parse_args()
    con = connect(args.state, args.memory_limit)
    total = 0.0
    for source in args.source or list(MODELS):
        copied, seconds, staged = stage_alone(con, source)
        total += seconds
        print(f"  {source:<10} {seconds:6.2f} s  {staged:>10,} usage lines  (copied into memory in {copied:.2f} s)",
              flush=True)
    print(f"  staging's rules alone {total:6.2f} s")


if __name__ == "__main__":
    main()
