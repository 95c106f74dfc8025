"""Load dump files into the raw tables, each file once (by sha256), each in its own transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import duckdb
import polars as pl

from transforms.raw.dump_files import SOURCES, DumpFile, read_file_bytes, split_lines
from transforms.sql_files import read_sql
from transforms.transactions import transaction


@dataclass
class LoadReport:
    load_id: int = 0
    loaded: list[DumpFile] = field(default_factory=list)
    skipped: list[DumpFile] = field(default_factory=list)
    lines_by_source: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))


def raw_table(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    return f"raw_{source}"


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(read_sql(__file__, "schema.sql"))
    con.execute(read_sql(__file__, "redact.sql"))


def next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.sql("SELECT coalesce(max(load_id), 0) + 1 FROM raw_files").fetchall()[0][0]


def load_dump_files(con: duckdb.DuckDBPyConnection, files: Iterable[DumpFile],
                    on_file: Callable[[int, int, DumpFile], None] | None = None) -> LoadReport:
    """Insert the lines of every file whose bytes were not loaded before, under a new load id.

    ``on_file(done, total, file)`` is called after each file that needed loading, for progress.
    """
    create_raw_tables(con)
    load_id = next_load_id(con)
    known = {row[0] for row in con.sql("SELECT file_sha256 FROM raw_files").fetchall()}
    report = LoadReport(load_id=load_id)
    files = list(files)
    total = len({dump.sha256 for dump in files} - known)
    for dump in files:
        if dump.sha256 in known:
            report.skipped.append(dump)
            continue
        lines = split_lines(read_file_bytes(dump.path), dump.source_file)
        _insert_file(con, dump, lines, load_id)
        known.add(dump.sha256)
        report.loaded.append(dump)
        report.lines_by_source[dump.source] += lines.height
        if on_file is not None:
            on_file(len(report.loaded), total, dump)
    return report


def _insert_file(con, dump: DumpFile, lines: pl.DataFrame, load_id: int) -> None:
    con.register("dump_lines", lines)
    try:
        with transaction(con):
            con.execute(
                f"INSERT INTO {raw_table(dump.source)} {read_sql(__file__, 'insert_lines.sql')}",
                [dump.sha256, load_id],
            )
            con.execute(
                "INSERT INTO raw_files VALUES (?, ?, ?, ?, ?, ?, now())",
                [dump.sha256, dump.source, dump.source_file, dump.size, lines.height, load_id],
            )
    finally:
        con.unregister("dump_lines")
