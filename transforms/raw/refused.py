"""Refused input files (SPEC §1): what a load found under the raw folder and would not, or could not, load.

A dump file is immutable: once a path is loaded, other bytes under it (a rewrite, an append) would load
its lines a second time under the same (source_file, line_number). Such a path is refused instead, and
so is anything that cannot be read whole (a folder that cannot be listed, a file that cannot be opened, a
truncated or corrupt gzip stream): nothing of it is loaded, and the run names it rather than skipping it
in silence. A refusal is not remembered as a decision: each load looks again, so a file whose bytes are
restored, or that was fixed, loads (or is skipped as loaded) on the next run.

The refusals of the latest load are kept in ``raw_refused_files`` for the run summary, `tally status`
and the raw assets' check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import duckdb

from transforms.transactions import transaction

CHANGED = ("its bytes changed since it was loaded (rewritten or appended to): restore them, and put new "
           "records in a new file")
CHANGED_WHILE_READ = "it changed while it was being read; it is read again on the next run"
NOT_A_FILE = "it is not a regular file (a pipe, socket or device) and cannot be read as a dump"


@dataclass(frozen=True)
class Refused:
    source_file: str  # relative to the raw dir, "/" separators; a folder's ends with "/"
    reason: str

    @property
    def source(self) -> str:
        return self.source_file.split("/", 1)[0]

    def describe(self) -> str:
        return f"{self.source_file}: {self.reason}"


def unreadable(error: OSError) -> str:
    return f"cannot be read ({_why(error)})"


def unreadable_folder(error: OSError) -> str:
    return f"cannot be read ({_why(error)}); nothing in it was loaded"


def broken_gzip(error: Exception) -> str:
    return f"cannot be read whole: its gzip stream is truncated or corrupt ({error})"


def _why(error: OSError) -> str:
    return error.strerror or str(error) or type(error).__name__


def relative(path: str | os.PathLike, raw_dir: str | os.PathLike) -> str:
    """``path`` relative to the raw dir with "/" separators, as ``source_file`` is written."""
    return os.path.relpath(path, raw_dir).replace(os.sep, "/")


def save_refused(con: duckdb.DuckDBPyConnection, refused: list[Refused]) -> None:
    """Replace the refusals kept with this load's (``create_raw_tables`` made the table)."""
    with transaction(con):
        con.execute("DELETE FROM raw_refused_files")
        if refused:
            con.execute("INSERT INTO raw_refused_files SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), now()",
                        [[r.source_file for r in refused], [r.reason for r in refused]])


def read_refused(con: duckdb.DuckDBPyConnection) -> list[Refused]:
    """The refusals of the latest load, by path; none before the first load (no table yet)."""
    exists = con.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'raw_refused_files'").fetchall()[0][0]
    if not exists:
        return []
    return [Refused(path, reason) for path, reason in
            con.sql("SELECT source_file, reason FROM raw_refused_files ORDER BY source_file").fetchall()]
