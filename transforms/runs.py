"""The run log in the working database: what each `tally run` did, for `tally status`.

What a run loaded and recomputed is read back from the tables that record it anyway (``raw_files``
and the change log, by their timestamps), so the log adds no bookkeeping to the pipeline itself.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from transforms.sql_files import read_sql


def record_run(con: duckdb.DuckDBPyConnection, started_at: datetime, finished_at: datetime, succeeded: bool,
               months: list[date], invoices_written: int, published: bool, message: str | None = None) -> None:
    con.execute(read_sql(__file__, "runs.sql"))
    files, lines = con.sql("SELECT count(*), coalesce(sum(line_count), 0) FROM raw_files WHERE loaded_at >= ?",
                           params=[started_at]).fetchall()[0]
    changes, full = con.sql("SELECT count(*), coalesce(bool_or(full_rebuild), false) FROM int_changes "
                            "WHERE changed_at >= ?", params=[started_at]).fetchall()[0]
    resolution = "full rebuild" if full else "changed lines" if changes else "nothing new"
    con.execute(
        "INSERT INTO run_log SELECT coalesce(max(run_number), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM run_log",
        [started_at, finished_at, succeeded, files, lines, resolution, months, invoices_written, published, message],
    )
