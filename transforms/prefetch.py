"""Iterate a generator in a thread of its own, a bounded number of items ahead of its consumer.

The raw load reads, splits and redacts dump lines in Python and Polars, and inserts and commits them in
DuckDB; one after the other, each waited for the other and the load used one core. Both release the
GIL for their heavy parts, so a reader thread one chunk ahead keeps both cores busy. The standard
library's queue and thread are enough: an executor's ``map`` would read the whole input ahead, and
memory must follow a chunk, not a file.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_END = object()


@contextmanager
def prefetched(items: Generator[T, None, None], depth: int = 1) -> Iterator[Iterator[T]]:
    """``items``, produced by a thread up to ``depth`` items ahead of the caller. An exception in the
    producer is raised in the caller, at the item where it happened; when the caller leaves the block
    early (or fails), the producer stops at its next item and ``items`` is closed."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as error:  # handed to the consumer, raised there
            put((_END, error))
        finally:
            items.close()

    def consume() -> Iterator[T]:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item

    producer = threading.Thread(target=produce, name="prefetch", daemon=True)
    producer.start()
    try:
        yield consume()
    finally:
        stop.set()
        producer.join()
