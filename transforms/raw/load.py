"""Load dump files into the raw tables, each file once (by sha256), a file's lines and its row together.

A path loaded before is loaded under its bytes of then, never again under others: a dump appended to or
rewritten in place is refused (``transforms.raw.refused``), so its lines are never loaded twice under one
(source_file, line_number), and what was loaded from it keeps its outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from transforms.prefetch import prefetched
from transforms.raw.dump_files import (
    CHUNK_BYTES,
    SOURCES,
    DumpFile,
    Stamp,
    Unreadable,
    discover_dump_files,
    read_lines,
)
from transforms.raw.redact import redact_lines
from transforms.raw.refused import CHANGED, Refused, save_refused
from transforms.raw.streams import STREAMS, side_by_side
from transforms.sql_files import read_sql
from transforms.transactions import transaction


class MissingFiles(Exception):
    """Dump files a close file records that are not in the raw folder with the bytes it records."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        super().__init__(", ".join(paths))


@dataclass
class LoadReport:
    load_id: int = 0
    loaded: list[DumpFile] = field(default_factory=list)
    skipped: list[DumpFile] = field(default_factory=list)
    lines_by_source: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))
    refused: list[Refused] = field(default_factory=list)


def raw_table(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    return f"raw_{source}"


SCHEMA_SQL = read_sql(__file__, "schema.sql")


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_SQL)


def next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.sql("SELECT coalesce(max(load_id), 0) + 1 FROM raw_files").fetchall()[0][0]


BATCH_BYTES = 64 << 20


def load_raw_dir(con: duckdb.DuckDBPyConnection, raw_dir: Path,
                 on_file: Callable[[int, int, DumpFile], None] | None = None,
                 only: Mapping[str, str] | None = None) -> LoadReport:
    """Load every new dump file under ``raw_dir`` and keep what was refused, found or read, for the run
    summary and `tally status` (``raw_refused_files``: this load's refusals replace the last load's).

    ``only`` (path -> sha256, a close file's files) loads exactly those files and nothing else: each must be
    found with those bytes, else ``MissingFiles`` names them and nothing is loaded."""
    create_raw_tables(con)
    found = discover_dump_files(raw_dir, known_hashes(con))
    if only is not None:
        files = [f for f in found.files if only.get(f.source_file) == f.sha256]
        missing = sorted(set(only) - {f.source_file for f in files})
        if missing:
            raise MissingFiles(missing)
        return load_dump_files(con, files, on_file)
    report = load_dump_files(con, found.files, on_file)
    report.refused = sorted([*found.refused, *report.refused], key=lambda r: r.source_file)
    save_refused(con, report.refused)
    return report


def load_dump_files(con: duckdb.DuckDBPyConnection, files: Iterable[DumpFile],
                    on_file: Callable[[int, int, DumpFile], None] | None = None,
                    batch_bytes: int = BATCH_BYTES, streams: int = STREAMS) -> LoadReport:
    """Insert the lines of every file whose bytes were not loaded before, under a new load id.

    A path loaded before whose bytes are now other ones is refused, as is a file that cannot be read whole
    (``report.refused``); a path whose bytes are again those once loaded is skipped like any loaded file.
    Files of one source are loaded together, up to ``batch_bytes`` of dump per transaction (a
    transaction per file spent more time committing than inserting), and read a chunk at a time
    (``_load_batches``), up to ``streams`` batches at once (``streams.side_by_side``). A file's lines and its
    ``raw_files`` row commit together, so a file is either loaded whole or not at all.
    ``on_file(done, total, file)`` is called after each file that needed loading (or was refused as
    unreadable), for progress, in the order of the files' paths.
    """
    create_raw_tables(con)
    files = list(files)
    _remember_hashes(con, files)
    load_id = next_load_id(con)
    loaded: dict[str, set[str]] = {}
    for path, sha256 in con.sql("SELECT source_file, file_sha256 FROM raw_files").fetchall():
        loaded.setdefault(path, set()).add(sha256)
    known = set().union(*loaded.values())
    report = LoadReport(load_id=load_id)
    pending: list[DumpFile] = []
    for dump in files:
        if dump.source_file in loaded and dump.sha256 not in loaded[dump.source_file]:
            report.refused.append(Refused(dump.source_file, CHANGED))
        elif dump.sha256 in known:
            report.skipped.append(dump)
        else:
            known.add(dump.sha256)
            pending.append(dump)
    done = 0
    batches = list(_batches(pending, batch_bytes))
    for dump, lines in side_by_side(con, batches, lambda cur, share: _load_batches(cur, share, load_id, report),
                                    streams):
        if lines is not None:
            report.loaded.append(dump)
            report.lines_by_source[dump.source] += lines
        done += 1
        if on_file is not None:
            on_file(done, len(pending), dump)
    report.refused.sort(key=lambda r: r.source_file)
    return report


def known_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[Stamp, str]]:
    """Per dump file (absolute path): its stamp and sha256 when it was last hashed, for ``discover_dump_files``."""
    create_raw_tables(con)
    rows = con.sql("SELECT path, byte_size, mtime_ns, ctime_ns, inode, file_sha256 FROM raw_file_hashes").fetchall()
    return {path: ((size, mtime, ctime, inode), sha256) for path, size, mtime, ctime, inode, sha256 in rows}


def _remember_hashes(con: duckdb.DuckDBPyConnection, files: list[DumpFile]) -> None:
    """Keep the stamp and sha256 of every file found, for the next run (a file no longer found is dropped)."""
    found = {str(f.path.absolute()): (f.stamp, f.sha256) for f in files}
    if found == known_hashes(con):
        return
    columns = list(zip(*((path, *stamp, sha256) for path, (stamp, sha256) in found.items()))) or [[]] * 6
    with transaction(con):
        con.execute("DELETE FROM raw_file_hashes")
        con.execute("""INSERT INTO raw_file_hashes SELECT unnest(?::VARCHAR[]), unnest(?::BIGINT[]),
                       unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[])""",
                    [list(column) for column in columns])


def _batches(files: list[DumpFile], batch_bytes: int) -> Iterable[list[DumpFile]]:
    """Consecutive files of one source, up to ``batch_bytes`` together (a bigger file goes alone)."""
    batch: list[DumpFile] = []
    size = 0
    for dump in sorted(files, key=lambda f: (f.source, f.source_file)):
        if batch and (dump.source != batch[0].source or size + dump.size > batch_bytes):
            yield batch
            batch, size = [], 0
        batch.append(dump)
        size += dump.size
    if batch:
        yield batch


class _Refused(Exception):
    def __init__(self, dump: DumpFile, reason: str) -> None:
        super().__init__(reason)
        self.dump, self.reason = dump, reason


def _load_batches(con: duckdb.DuckDBPyConnection, batches: list[list[DumpFile]], load_id: int,
                  report: LoadReport) -> Iterator[tuple[DumpFile, int | None]]:
    """Load each batch (files of one source) in one transaction, its lines read, redacted and inserted
    about ``CHUNK_BYTES`` at a time, so that memory follows the chunk, not the file. A thread reads
    and redacts the next chunk while DuckDB inserts or commits the last (``prefetched``). A file that
    cannot be read whole is refused (``report.refused``) and its batch is loaded again without it.
    Yields each file with its line count (None: refused), a batch once it is committed."""
    refused: set[str] = set()
    first = 0
    while first < len(batches):
        readable = [[dump for dump in batch if dump.source_file not in refused] for batch in batches[first:]]
        with prefetched(_redacted_chunks(readable)) as chunks:
            for batch, files in zip(batches[first:], readable, strict=True):
                try:
                    counts = _insert_batch(con, files, chunks, load_id)
                except _Refused as error:
                    refused.add(error.dump.source_file)
                    report.refused.append(Refused(error.dump.source_file, error.reason))
                    break
                first += 1
                yield from ((dump, counts.get(dump.source_file)) for dump in batch)


def _insert_batch(con: duckdb.DuckDBPyConnection, files: list[DumpFile],
                  chunks: Iterator[pl.DataFrame | _BatchRead | _Refused], load_id: int) -> dict[str, int]:
    """Insert one batch's chunks and the ``raw_files`` rows of its ``files`` in one transaction;
    returns each file's line count."""
    with transaction(con):
        for chunk in chunks:
            if isinstance(chunk, _Refused):
                raise chunk
            if isinstance(chunk, _BatchRead):
                if files:
                    con.executemany("INSERT INTO raw_files VALUES (?, ?, ?, ?, ?, ?, now())", [
                        (d.sha256, d.source, d.source_file, d.size, chunk.lines[d.source_file], load_id) for d in files])
                return chunk.lines
            con.register("dump_lines", chunk)
            try:
                con.execute(f"INSERT INTO {raw_table(files[0].source)} {read_sql(__file__, 'insert_lines.sql')}",
                            [load_id])
            finally:
                con.unregister("dump_lines")
    raise RuntimeError("the dump chunks ended inside a batch")


@dataclass(frozen=True)
class _BatchRead:
    """The end of a batch's chunks: each file's line count."""

    lines: dict[str, int]


def _redacted_chunks(batches: list[list[DumpFile]]) -> Iterator[pl.DataFrame | _BatchRead | _Refused]:
    """Per batch, its files' lines with the file's sha256, redacted, in frames of about ``CHUNK_BYTES``,
    then a ``_BatchRead``. A file that cannot be read whole ends the chunks with a ``_Refused``."""
    for files in batches:
        frames: list[pl.DataFrame] = []
        lines: dict[str, int] = {}
        for dump in files:
            lines[dump.source_file] = 0
            try:
                for frame in read_lines(dump):
                    frames.append(frame.with_columns(pl.lit(dump.sha256).alias("file_sha256")))
                    lines[dump.source_file] += frame.height
                    if sum(f.estimated_size() for f in frames) >= CHUNK_BYTES:
                        yield redact_lines(pl.concat(frames))
                        frames = []
            except Unreadable as error:
                yield _Refused(dump, error.reason)
                return
        if frames:
            yield redact_lines(pl.concat(frames))
        yield _BatchRead(lines)
