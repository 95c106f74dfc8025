"""Staging every source at once: segments of whole files are staged in two streams, each on a DuckDB
cursor of its own.

A segment's batches are staged one after another (``common.stage_segment``), each committing on its
own; a file is never split over two segments, so a run that stops part-way leaves each file's staged
lines a prefix of it, and the next resumes every file where it stopped (``pending_files.sql``). One batch
keeps a core and a half busy at best (a batch of paygentic's few long lines is parsed on one thread), so
two segments staged side by side use the machine's cores. Segments are a share of all the pending
bytes, so that the largest source is spread over both streams rather than left to one at the end; the
largest is staged first, and a stream takes the next segment when it is done with one.

Two batches side by side need more memory than one: a batch is sized for one at a time (a share of
DuckDB's memory limit, ``batches.default_batch_bytes``). The ``MemoryGate`` keeps the bound: a batch of
a line larger than a batch (which needs all the memory a batch may have) is staged alone, and a batch
that runs out of memory beside another is staged again alone (its INSERT is one transaction: nothing of
it was kept); one of several lines that runs out alone too is staged in halves (``common._stage_window``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import duckdb

from transforms.staging import batches, common
from transforms.staging.pending import pending_lines

STREAMS = 2
# Segments are at least this many batches (fewer, and a segment's last, partial batch costs more than the
# balance gains) and otherwise a share of all the pending bytes: a stream's share in this many segments,
# so that the one a stream stages alone at the end is small.
MIN_SEGMENT_BATCHES = 4
SEGMENTS_PER_STREAM = 8
T = TypeVar("T")


class MemoryGate:
    """Whether a batch is staged beside the other streams' batches or alone (a readers-writer lock: the
    standard library has none, and this one is a dozen lines). A batch waiting to run alone goes first."""

    def __init__(self, streams: int) -> None:
        self.streams = streams
        self._changed = threading.Condition()
        self._beside = 0
        self._alone = False
        self._waiting_alone = 0

    def stage(self, work: Callable[[], T], alone: bool) -> T:
        """Run ``work`` beside the other streams' batches, or alone when ``alone`` or when DuckDB ran out
        of memory beside them."""
        if alone or self.streams == 1:
            with self._run_alone():
                return work()
        try:
            with self._run_beside():
                return work()
        except duckdb.OutOfMemoryException:
            with self._run_alone():
                return work()

    @contextmanager
    def _run_beside(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._beside += 1
        try:
            yield
        finally:
            with self._changed:
                self._beside -= 1
                self._changed.notify_all()

    @contextmanager
    def _run_alone(self) -> Iterator[None]:
        with self._changed:
            self._waiting_alone += 1
            self._changed.wait_for(lambda: not self._alone and not self._beside)
            self._waiting_alone -= 1
            self._alone = True
        try:
            yield
        finally:
            with self._changed:
                self._alone = False
                self._changed.notify_all()


def stage_new_lines(con: duckdb.DuckDBPyConnection, model: common.VendorModel, batch_bytes: int | None = None) -> int:
    """Stage one source's raw lines not staged yet; returns the usage lines added."""
    return stage_sources(con, [model], batch_bytes)[model.source].lines


def stage_sources(con: duckdb.DuckDBPyConnection, models: list[common.VendorModel], batch_bytes: int | None = None,
                  streams: int = STREAMS) -> dict[str, common.Staged]:
    """Stage the raw lines not staged yet of every model's source, in batches of about ``batch_bytes``
    of raw lines (default: a share of DuckDB's memory limit), each its own INSERT and commit, in up to
    ``streams`` segments at once; returns what was staged per source (``common.Staged``). An error in one
    stream stops the others after their current segment, and is raised."""
    batch_bytes = batch_bytes or batches.default_batch_bytes(con)
    pending = [pending_lines(con, model, batch_bytes) for model in models]
    share = sum(p.bytes for p in pending) // (streams * SEGMENTS_PER_STREAM)
    segment_bytes = max(MIN_SEGMENT_BATCHES * batch_bytes, share)
    queue = deque(sorted((segment for p in pending for segment in p.segments(batch_bytes, segment_bytes)),
                         key=lambda segment: segment.bytes, reverse=True))
    gate = MemoryGate(max(1, min(streams, len(queue))))
    added = dict.fromkeys((p.model.source for p in pending), 0)
    taking, failed = threading.Lock(), threading.Event()

    def stream(cur: duckdb.DuckDBPyConnection) -> None:
        with cur:
            while True:
                with taking:
                    if not queue or failed.is_set():
                        return
                    segment = queue.popleft()
                try:
                    lines = common.stage_segment(cur, segment, batch_bytes, gate)
                except BaseException:
                    failed.set()
                    raise
                with taking:
                    added[segment.model.source] += lines

    with common.staging_settings(con):
        # A connection is used by one thread at a time: each stream's is opened here, before they start.
        cursors = [common.cursor(con) for _ in range(gate.streams)]
        with ThreadPoolExecutor(gate.streams) as pool:
            for done in [pool.submit(stream, cur) for cur in cursors]:
                done.result()
    return {p.model.source: common.Staged(added[p.model.source], p.after) for p in pending}
