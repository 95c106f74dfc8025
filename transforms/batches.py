"""Work in batches that hold whole dump lines, so memory stays flat however large a load is."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import polars as pl

BATCH_ROWS = 200_000  # rows handed to Polars (or Pandera) at a time


def line_batches(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[str], params: list | None = None,
    rows: int = BATCH_ROWS,
) -> Iterator[pl.DataFrame]:
    """``columns`` of ``relation`` in batches of about ``rows`` rows; every row of a dump line (so every
    usage line of a record) is in the same batch. At least one batch, so an empty input still gives a
    typed (empty) frame.

    The rows are read once into a temporary table ordered by batch number (a hash of the line), so
    each batch reads only its own row groups. Rows that make one batch are read as they are: copying
    them into that table first (paygentic's raw lines, hundreds of MB) bought nothing.
    """
    params = params or []
    total = con.sql(f"SELECT count(*) FROM {relation}", params=params).fetchall()[0][0]
    batches = max(1, -(-total // rows))
    if batches == 1:
        yield con.sql(f"SELECT {', '.join(columns)} FROM {relation}", params=params).pl()
        return
    # The relation comes first in the text, so its own `?` parameters bind before the batch count's.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE line_batch_rows AS
            WITH selected AS (SELECT {', '.join(columns)} FROM {relation})
            SELECT *, hash(source_file, line_number) % ?::UBIGINT AS line_batch
            FROM selected ORDER BY line_batch""",
        [*params, batches],
    )
    try:
        for batch in range(batches):
            yield con.sql("SELECT * EXCLUDE (line_batch) FROM line_batch_rows WHERE line_batch = ?",
                          params=[batch]).pl()
    finally:
        con.execute("DROP TABLE line_batch_rows")
