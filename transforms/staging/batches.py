"""Staging in batches of raw lines bounded by their bytes, so that memory follows the batch, not the load.

A load can hold millions of lines, and one paygentic line can hold 1000 events and many megabytes; the
vendor models expand each line into its events and properties. Staged in one statement, a large load
needed many times its size in memory. Batches are whole lines of one load in (source_file,
line_number) order, cut from blocks of up to 256 lines by their bytes (``pending.sql``; a block larger
than a batch is cut line by line), each inserted and committed on its own. Whole files are grouped into
segments (``segments``), the unit one stream stages in order: a run that stops part-way leaves each
file's staged lines a prefix of it, and the next run resumes every file after its last staged line
(``pending_files.sql``): no line is staged twice or skipped.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate, groupby

import duckdb

from transforms.sql_files import read_sql

# A batch is this share of DuckDB's memory limit: staging needs about 20 times the bytes of the lines
# of a batch (DuckDB's JSON functions each keep a parse buffer of several times the lines of a chunk,
# and the models hold copies of the bodies and events); a line larger than a batch is a batch alone. A
# 20 MB line stages alone at 512MB, so batches of 16 MB do too; at 8 MB paygentic's batch lines
# (1M records) took 9.0 s instead of 7.2 s, most of it per-batch cost.
SHARE_OF_MEMORY = 32
MIN_BATCH_BYTES = 1 << 20
# Staging checkpoints the write-ahead log once it passes this share of the memory limit (64 MB at 512MB),
# not at DuckDB's 16 MiB, at which a 10M-record first load checkpointed after almost every batch, each
# checkpoint slower as the tables grow: staging samplehc's 2.5M lines took 21.3 s at 16 MiB and 14.5 s
# at 64 MB, the process's peak the same (484 and 471 MiB); at 256 MB its peak grew by 140 MiB. Committed
# data waits in the log, which is replayed when the file is next opened: a crash loses nothing.
LOG_SHARE_OF_MEMORY = 8
MIN_LOG_BYTES = 16 << 20
_UNITS = {"bytes": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
          "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def default_batch_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """A share of the connection's memory limit: a smaller limit stages smaller batches, slower but whole."""
    limit = _memory_limit(con)
    return 8 << 20 if limit is None else max(MIN_BATCH_BYTES, limit // SHARE_OF_MEMORY)


def checkpoint_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The size of write-ahead log at which staging checkpoints: a share of the memory limit."""
    limit = _memory_limit(con)
    return MIN_LOG_BYTES if limit is None else max(MIN_LOG_BYTES, limit // LOG_SHARE_OF_MEMORY)


def _memory_limit(con: duckdb.DuckDBPyConnection) -> int | None:
    setting = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]+)\s*", str(setting))
    if not match or match[2].lower() not in _UNITS:
        return None
    return int(float(match[1]) * _UNITS[match[2].lower()])


def pending_blocks(con: duckdb.DuckDBPyConnection, batch_bytes: int) -> list[dict]:
    """The lines of the view ``raw_source`` after the last staged line of their file (the temp table
    ``pending_files``), as blocks of consecutive lines of one file (load_id, source_file, first_line,
    last_line, bytes) in staging order; a block larger than ``batch_bytes`` comes line by line."""
    blocks = []
    for block in con.sql(read_sql(__file__, "pending.sql")).pl().iter_rows(named=True):
        if block["bytes"] <= batch_bytes or block["first_line"] == block["last_line"]:
            blocks.append(block)
        else:
            blocks += _line_blocks(con, _batch([block]))
    return blocks


def _line_blocks(con: duckdb.DuckDBPyConnection, batch: Batch) -> list[dict]:
    """Each line of ``batch`` (read from ``raw_source``) as a block of its own, with its bytes, in order."""
    return con.sql(f"SELECT load_id, source_file, line_number AS first_line, line_number AS last_line, "
                   f"strlen(envelope)::BIGINT AS bytes FROM ({read_sql(__file__, 'raw_batch.sql')}) "
                   "ORDER BY source_file, line_number", params=batch.params()).pl().to_dicts()


def segments(blocks: Iterable[dict], segment_bytes: int) -> Iterator[list[dict]]:
    """Consecutive blocks of whole files of one load, grouped up to ``segment_bytes`` (a larger file is a
    segment of its own): what one stream stages, batch after batch. A file is never split over two
    segments, so its staged lines stay a prefix of it whatever the streams do side by side."""
    segment: list[dict] = []
    total = 0
    for (load_id, _), file in groupby(blocks, key=lambda block: (block["load_id"], block["source_file"])):
        blocks_of_file = list(file)
        size = sum(block["bytes"] for block in blocks_of_file)
        if segment and (load_id != segment[0]["load_id"] or total + size > segment_bytes):
            yield segment
            segment, total = [], 0
        segment += blocks_of_file
        total += size
    if segment:
        yield segment


@dataclass(frozen=True)
class Batch:
    """A run of consecutive raw lines of one load, from (first_file, first_line) to (last_file, last_line)."""

    load_id: int
    first_file: str
    first_line: int
    last_file: str
    last_line: int
    bytes: int = field(default=0, compare=False)
    lines: int = field(default=0, compare=False)

    def needs_all_memory(self, batch_bytes: int) -> bool:
        """A batch larger than ``batch_bytes`` is one line larger than a batch (``pack``): staging it needs
        all the memory a batch may have, so it is read and staged with nothing beside it."""
        return self.bytes > batch_bytes

    def params(self) -> dict:
        """The parameters of ``raw_batch.sql``; within one file, plain line bounds let DuckDB skip the row
        groups of the file's other lines."""
        one_file = self.first_file == self.last_file
        return {"load_id": self.load_id, "first_file": self.first_file, "first_line": self.first_line,
                "last_file": self.last_file, "last_line": self.last_line,
                "min_line": self.first_line if one_file else 0, "max_line": self.last_line if one_file else 2**62}


def pack(blocks: Iterable[dict], batch_bytes: int) -> Iterator[Batch]:
    """Consecutive blocks of one load, packed into batches of up to ``batch_bytes`` (a larger block, a
    single line, is a batch of its own)."""
    packed: list[dict] = []
    total = 0
    for block in blocks:
        if packed and (block["load_id"] != packed[0]["load_id"] or total + block["bytes"] > batch_bytes):
            yield _batch(packed)
            packed, total = [], 0
        packed.append(block)
        total += block["bytes"]
    if packed:
        yield _batch(packed)


def halves(con: duckdb.DuckDBPyConnection, batch: Batch) -> list[Batch]:
    """The lines of ``batch`` (read from ``raw_source``) as two batches of about half its bytes each, in
    line order; none for a batch of one line. A batch that ran out of memory alone is staged in halves
    (``common._stage_window``): a batch is sized by its bytes, and what staging them needs varies with
    their shape and with what DuckDB's threads hold at once."""
    lines = _line_blocks(con, batch)
    if len(lines) < 2:
        return []
    sizes = list(accumulate(line["bytes"] for line in lines))
    cut = min(bisect_left(sizes, sizes[-1] / 2) + 1, len(lines) - 1)  # the first lines to reach half
    return [_batch(lines[:cut]), _batch(lines[cut:])]


def windows(batches: Iterable[Batch], batch_bytes: int, per_window: int, short: int) -> Iterator[list[Batch]]:
    """Consecutive batches of one load, each of fewer than ``short`` lines and at most ``batch_bytes``,
    grouped up to ``per_window`` batches' bytes; any other batch (of many lines, or of one line larger
    than a batch, which needs all the memory a batch may have) is a window of its own. Staging reads a
    window's raw lines from the raw table in one statement: DuckDB decompresses a whole vector of 2,048
    stored lines to read any of them, and a vector of paygentic's batch lines (tens of MB) spans
    several batches, each of which would decompress it again."""
    def groups(batch: Batch) -> bool:
        return batch.lines < short and not batch.needs_all_memory(batch_bytes)

    window: list[Batch] = []
    total = 0
    for batch in batches:
        if window and not (groups(window[0]) and groups(batch) and batch.load_id == window[0].load_id
                           and total + batch.bytes <= per_window * batch_bytes):
            yield window
            window, total = [], 0
        window.append(batch)
        total += batch.bytes
    if window:
        yield window


def span(window: list[Batch]) -> Batch:
    """One batch over the lines of a window of consecutive batches of one load."""
    first, last = window[0], window[-1]
    return Batch(first.load_id, first.first_file, first.first_line, last.last_file, last.last_line,
                 sum(b.bytes for b in window), sum(b.lines for b in window))


def _batch(blocks: list[dict]) -> Batch:
    first, last = blocks[0], blocks[-1]
    return Batch(first["load_id"], first["source_file"], first["first_line"], last["source_file"], last["last_line"],
                 sum(b["bytes"] for b in blocks), sum(b["last_line"] - b["first_line"] + 1 for b in blocks))
