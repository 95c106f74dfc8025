"""The raw load reads and redacts the next chunk of dump lines in a thread (``transforms.prefetch``)
while DuckDB inserts the last: the order, the errors and the early ends of the items must be those of
reading them in line."""

from __future__ import annotations

import threading

import duckdb
import pytest

from tests.harness import write_dump
from tests.test_input import claim
from transforms.prefetch import prefetched
from transforms.raw.dump_files import discover_dump_files
from transforms.raw.load import load_dump_files


def test_items_come_in_order_and_a_producer_error_comes_after_the_items_before_it():
    def numbers():
        yield from range(5)
        raise ValueError("the sixth item failed")

    seen = []
    with pytest.raises(ValueError, match="the sixth item failed"), prefetched(numbers(), depth=2) as items:
        seen.extend(items)
    assert seen == [0, 1, 2, 3, 4]


def test_leaving_early_stops_the_producer_and_closes_its_generator():
    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    with prefetched(endless()) as items:
        assert [next(items) for _ in range(3)] == [0, 1, 2]
    assert closed.is_set()
    assert not any(t.name == "prefetch" and t.is_alive() for t in threading.enumerate())


def test_a_consumer_error_stops_the_producer():
    closed = threading.Event()

    def lines():
        try:
            yield from range(100)
        finally:
            closed.set()

    with pytest.raises(RuntimeError, match="insert failed"), prefetched(lines()) as items:
        for n in items:
            if n == 2:
                raise RuntimeError("insert failed")
    assert closed.is_set()


def test_a_file_refused_in_a_middle_batch_leaves_the_batches_around_it_loaded(tmp_path):
    """One file per batch (batch_bytes=1): the first batch is committed before the second's file turns
    out unreadable, the reader thread is by then ahead in the third; that batch is read again and
    loaded, and only the broken file is refused."""
    raw = tmp_path / "raw"
    write_dump(raw, "samplehc/a.jsonl", [claim(1), claim(2)])
    broken = write_dump(raw, "samplehc/b.jsonl.gz", [claim(3)], gz=True)
    broken.write_bytes(broken.read_bytes()[:-12])  # a copy cut short
    write_dump(raw, "samplehc/c.jsonl", [claim(4), claim(5), claim(6)])
    write_dump(raw, "tula/d.jsonl", [claim(7)])
    con = duckdb.connect()
    progress = []
    report = load_dump_files(con, discover_dump_files(raw).files,
                             lambda done, total, f: progress.append((done, total, f.source_file)), batch_bytes=1)
    assert [r.source_file for r in report.refused] == ["samplehc/b.jsonl.gz"]
    assert report.refused[0].reason.startswith("cannot be read whole: its gzip stream is truncated or corrupt")
    assert [f.source_file for f in report.loaded] == ["samplehc/a.jsonl", "samplehc/c.jsonl", "tula/d.jsonl"]
    assert progress == [(1, 4, "samplehc/a.jsonl"), (2, 4, "samplehc/b.jsonl.gz"), (3, 4, "samplehc/c.jsonl"),
                        (4, 4, "tula/d.jsonl")]
    assert con.sql("SELECT source_file, line_count FROM raw_files ORDER BY ALL").fetchall() == [
        ("samplehc/a.jsonl", 2), ("samplehc/c.jsonl", 3), ("tula/d.jsonl", 1)]
    assert con.sql("SELECT source_file, count(*) FROM raw_samplehc GROUP BY ALL ORDER BY ALL").fetchall() == [
        ("samplehc/a.jsonl", 2), ("samplehc/c.jsonl", 3)]
