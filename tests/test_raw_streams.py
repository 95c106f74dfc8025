"""The raw load runs batches of dump files in streams side by side (``transforms.raw.streams``): what it
stores, reports and refuses must be what one stream stores, reports and refuses, whatever order the
streams' batches commit in."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import transforms.raw.load as raw_load
from tests.harness import write_dump
from tests.test_input import claim
from transforms.raw.dump_files import DumpFile, discover_dump_files
from transforms.raw.load import load_dump_files
from transforms.raw.streams import deal

SHIPPED = Path(__file__).parents[1] / "data" / "raw"


def dump(name: str, size: int) -> DumpFile:
    return DumpFile("samplehc", Path(name), name, name, (size, 0, 0, 0))


def test_batches_are_dealt_largest_first_to_the_stream_with_fewest_bytes():
    a, b, c, d, e = dump("a", 50), dump("b", 40), dump("c", 30), dump("d", 20), dump("e", 15)
    # by bytes: a 50 -> first; b 40 -> second; d+e 35 -> second (40 < 50), 75; c 30 -> first (50 < 75), 80
    assert deal([[a], [b], [c], [d, e]], 2) == [[[a], [c]], [[b], [d, e]]]
    assert deal([[a], [b]], 3) == [[[a]], [[b]]]
    assert deal([], 2) == []


def stored(con: duckdb.DuckDBPyConnection) -> dict:
    return {
        "files": con.sql("SELECT * EXCLUDE (loaded_at) FROM raw_files ORDER BY source_file").fetchall(),
        "lines": {source: con.sql(f"SELECT * FROM raw_{source} ORDER BY source_file, line_number").fetchall()
                  for source in ("samplehc", "tula", "sequence", "paygentic")},
    }


def load(raw: Path, streams: int, batch_bytes: int) -> tuple[dict, raw_load.LoadReport, list]:
    con = duckdb.connect()
    progress = []
    report = load_dump_files(con, discover_dump_files(raw).files,
                             lambda done, total, f: progress.append((done, total, f.source_file)),
                             batch_bytes=batch_bytes, streams=streams)
    return stored(con), report, progress


@pytest.mark.parametrize("batch_bytes", [1, 4096, 1 << 30])
def test_streams_store_and_report_what_one_stream_does(batch_bytes):
    """The shipped dumps (every source), a batch per file, a few files a batch, or a batch per source."""
    one, one_report, one_progress = load(SHIPPED, 1, batch_bytes)
    files = len(one["files"])
    assert files >= 8 and one_progress == [(k + 1, files, f[2]) for k, f in enumerate(one["files"])]
    for streams in (2, 3):
        many, report, progress = load(SHIPPED, streams, batch_bytes)
        assert many == one
        assert progress == one_progress  # in path order, whichever stream loaded each file
        assert [f.source_file for f in report.loaded] == [f.source_file for f in one_report.loaded]
        assert report.lines_by_source == one_report.lines_by_source
        assert report.refused == one_report.refused == []


def test_a_broken_file_in_one_stream_is_refused_and_every_other_file_is_loaded(tmp_path):
    raw = tmp_path / "raw"
    for k in range(1, 7):
        write_dump(raw, f"samplehc/{k}.jsonl", [claim(10 * k + n) for n in range(k)])
    broken = write_dump(raw, "samplehc/4b.jsonl.gz", [claim(99)], gz=True)
    broken.write_bytes(broken.read_bytes()[:-12])  # a copy cut short
    stored_lines, report, progress = load(raw, 2, 1)
    assert [r.source_file for r in report.refused] == ["samplehc/4b.jsonl.gz"]
    assert [p[2] for p in progress] == [f"samplehc/{n}" for n in
                                        ("1.jsonl", "2.jsonl", "3.jsonl", "4.jsonl", "4b.jsonl.gz", "5.jsonl", "6.jsonl")]
    assert [(f[2], f[4]) for f in stored_lines["files"]] == [(f"samplehc/{k}.jsonl", k) for k in range(1, 7)]
    assert len(stored_lines["lines"]["samplehc"]) == 1 + 2 + 3 + 4 + 5 + 6


def test_an_error_in_one_stream_is_raised_and_leaves_only_whole_files_loaded(tmp_path, monkeypatch):
    """A batch that fails to insert rolls back whole; the other stream stops after its current batch. What
    was committed is whole files with their raw_files rows, which the next load skips."""
    raw = tmp_path / "raw"
    for k in range(1, 9):
        write_dump(raw, f"tula/{k}.jsonl", [claim(10 * k + n) for n in range(k)])
    insert = raw_load._insert_batch

    def failing(con, files, chunks, load_id):
        if any(f.source_file == "tula/5.jsonl" for f in files):
            raise RuntimeError("the disk is full")
        return insert(con, files, chunks, load_id)

    monkeypatch.setattr(raw_load, "_insert_batch", failing)
    con = duckdb.connect()
    with pytest.raises(RuntimeError, match="the disk is full"):
        load_dump_files(con, discover_dump_files(raw).files, batch_bytes=1, streams=2)
    loaded = dict(con.sql("SELECT source_file, line_count FROM raw_files").fetchall())
    assert "tula/5.jsonl" not in loaded
    assert loaded == dict(con.sql("SELECT source_file, count(*) FROM raw_tula GROUP BY ALL").fetchall())
    assert all(loaded[name] == int(name.split("/")[1].split(".")[0]) for name in loaded)

    monkeypatch.setattr(raw_load, "_insert_batch", insert)
    report = load_dump_files(con, discover_dump_files(raw).files, batch_bytes=1, streams=2)
    assert sorted(f.source_file for f in report.loaded) == sorted(set(f"tula/{k}.jsonl" for k in range(1, 9)) - set(loaded))
    assert con.sql("SELECT count(*), count(DISTINCT (source_file, line_number)) FROM raw_tula").fetchall() == [(36, 36)]
