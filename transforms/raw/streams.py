"""Dump files loaded in streams side by side: batches of files dealt to streams of about equal bytes,
each stream loading its batches on a DuckDB cursor of its own (with its own reader thread).

One batch at a time kept 1.3 of the machine's 2 cores busy: DuckDB inserted and committed on one thread
while Python read and redacted the next chunk on the other, each waiting for the other. Two streams
loaded the 1M benchmark's dumps in 3.9 s instead of 5.1 s. Batches are separate transactions whatever
the order they commit in: staging, which reads the raw lines in (load, file, line) order, starts once
the load is over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import duckdb

from transforms.prefetch import prefetched
from transforms.raw.dump_files import DumpFile

STREAMS = 2

Batch = list[DumpFile]
Loaded = tuple[DumpFile, "int | None"]  # a file and its line count (None: refused)


def deal(batches: list[Batch], streams: int) -> list[list[Batch]]:
    """The batches dealt to up to ``streams`` streams of about equal bytes (largest first, each to the
    stream with the fewest bytes so far), each stream's batches in path order."""
    shares: list[list[int]] = [[] for _ in range(max(1, min(streams, len(batches))))]
    totals = [0] * len(shares)
    for k in sorted(range(len(batches)), key=lambda k: -_bytes(batches[k])):
        least = totals.index(min(totals))
        shares[least].append(k)
        totals[least] += _bytes(batches[k])
    return [[batches[k] for k in sorted(share)] for share in shares if share]


def _bytes(batch: Batch) -> int:
    return sum(dump.size for dump in batch)


def side_by_side(con: duckdb.DuckDBPyConnection, batches: list[Batch],
                 load: Callable[[duckdb.DuckDBPyConnection, list[Batch]], Iterator[Loaded]],
                 streams: int = STREAMS) -> Iterator[Loaded]:
    """``load(cursor, share)`` of each stream's share of ``batches`` (``deal``), each in a thread of its
    own (``prefetched``); yields every file ``load`` reports in the order of ``batches``, as soon as the
    files before it are reported too. A stream reports its files in that order too, so the next file
    comes from its own stream's next report. An error in a stream is raised when its file's turn comes;
    leaving stops the other streams after their current batch."""
    shares = deal(batches, streams)
    if len(shares) <= 1:
        yield from load(con, batches)
        return
    stream_of = {dump.source_file: k for k, share in enumerate(shares) for batch in share for dump in batch}
    order = [dump for batch in batches for dump in batch]
    # A connection is used by one thread at a time: each stream's cursor is opened here, before they start.
    cursors = [con.cursor() for _ in shares]
    with ExitStack() as stack:
        reports = [stack.enter_context(prefetched(_on_cursor(cur, share, load), depth=len(order)))
                   for cur, share in zip(cursors, shares, strict=True)]
        for dump in order:
            yield next(reports[stream_of[dump.source_file]])


def _on_cursor(cur: duckdb.DuckDBPyConnection, share: list[Batch],
               load: Callable[[duckdb.DuckDBPyConnection, list[Batch]], Iterator[Loaded]]) -> Iterator[Loaded]:
    with cur:
        yield from load(cur, share)
