"""Dump files loaded in streams side by side: batches of files dealt to streams of about equal bytes,
each stream loading its batches on a DuckDB cursor of its own (with its own reader thread).

One batch at a time kept 1.3 of the machine's 2 cores busy: DuckDB inserted and committed on one thread
while Python read and redacted the next chunk on the other, each waiting for the other. Two streams
loaded the 1M benchmark's dumps in 3.9 s instead of 5.1 s. Batches are separate transactions whatever
the order they commit in: staging, which reads the raw lines in (load, file, line) order, starts once
the load is over.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import duckdb

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


@dataclass(frozen=True)
class _End:
    error: BaseException | None = None


def side_by_side(con: duckdb.DuckDBPyConnection, batches: list[Batch],
                 load: Callable[[duckdb.DuckDBPyConnection, list[Batch]], Iterator[Loaded]],
                 streams: int = STREAMS) -> Iterator[Loaded]:
    """``load(cursor, share)`` of each stream's share of ``batches`` (``deal``), the streams side by side;
    yields every file ``load`` reports in the order of ``batches``, each as soon as the files before it
    are reported too. An error in one stream stops the others after their current batch, and is raised
    once they have stopped."""
    shares = deal(batches, streams)
    if len(shares) <= 1:
        yield from load(con, shares[0] if shares else [])
        return
    results: queue.Queue = queue.Queue()
    failed = threading.Event()

    def stream(cur: duckdb.DuckDBPyConnection, share: list[Batch]) -> None:
        error = None
        try:
            with cur:
                for item in load(cur, share):
                    results.put(item)
                    if failed.is_set():
                        break
        except BaseException as caught:  # raised in the caller's thread, below
            error = caught
            failed.set()
        results.put(_End(error))

    order = [dump for batch in batches for dump in batch]
    arrived: dict[str, int | None] = {}
    given, ended = 0, 0
    errors: list[BaseException] = []
    # A connection is used by one thread at a time: each stream's cursor is opened here, before they start.
    cursors = [con.cursor() for _ in shares]
    with ThreadPoolExecutor(len(shares)) as pool:
        try:
            for cur, share in zip(cursors, shares, strict=True):
                pool.submit(stream, cur, share)
            while ended < len(shares):
                item = results.get()
                if isinstance(item, _End):
                    ended += 1
                    errors += [item.error] if item.error is not None else []
                    continue
                arrived[item[0].source_file] = item[1]
                while given < len(order) and order[given].source_file in arrived:
                    yield order[given], arrived.pop(order[given].source_file)
                    given += 1
        finally:
            failed.set()
    if errors:
        raise errors[0]
