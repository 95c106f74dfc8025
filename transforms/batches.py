"""Work in batches of whole dump files, so memory stays flat however large a load is."""

from __future__ import annotations

import duckdb

BATCH_ROWS = 500_000  # rows handed to Polars (or Pandera) at a time


def file_batches(
    con: duckdb.DuckDBPyConnection, relation: str, rows: int = BATCH_ROWS, params: list | None = None
) -> list[list[str]]:
    """Whole files of ``relation`` (a record never spans two) in batches of about ``rows`` rows;
    always at least one batch, so an empty input still gives typed (empty) results."""
    batches: list[list[str]] = [[]]
    size = 0
    counts = con.sql(f"SELECT source_file, count(*) FROM {relation} GROUP BY 1 ORDER BY 1", params=params)
    for source_file, count in counts.fetchall():
        if size and size + count > rows:
            batches.append([])
            size = 0
        batches[-1].append(source_file)
        size += count
    return batches
