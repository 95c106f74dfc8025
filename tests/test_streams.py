"""Staging in two streams (transforms.staging.streams): the shipped sample dumps staged in segments of
whole files side by side give the rows staging one source at a time gives, a stop in one stream leaves
every file's staged lines a prefix that the next staging completes, and the memory gate keeps a batch
that needs all the memory (a line larger than a batch, a batch that ran out of memory beside another)
alone."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest

from transforms.raw.load import load_raw_dir
from transforms.staging import MODELS, common, stage_new_lines, stage_sources
from transforms.warehouse import connect_state

SAMPLE = Path(__file__).parents[1] / "data" / "raw"
BATCH_BYTES = 1000  # a few sample lines a batch, and paygentic's longest lines (up to 1,376 bytes) alone


def loaded(folder: Path) -> duckdb.DuckDBPyConnection:
    con = connect_state(folder / "w.duckdb")
    load_raw_dir(con, SAMPLE)
    return con


def staged(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {model.source: con.sql(f"""SELECT * FROM {model.table}
                                      ORDER BY source_file, line_number, record_index, property_index""").fetchall()
            for model in MODELS.values()}


@pytest.fixture
def one_at_a_time(tmp_path):
    """The sample staged one source after another, in batches of the same size."""
    con = loaded(tmp_path / "one")
    for model in MODELS.values():
        stage_new_lines(con, model, batch_bytes=BATCH_BYTES)
    yield staged(con)
    con.close()


class Watched:
    """``common.stage_batch``, counting the batches being staged at once (each held a moment, so that two
    streams meet), and noting, per batch, how many were being staged while it was."""

    def __init__(self, monkeypatch, fail=lambda model, batch, attempts: False):
        self.real, self.fail = common.stage_batch, fail
        self.lock, self.active, self.seen = threading.Lock(), 0, []
        self.attempts: dict = {}
        monkeypatch.setattr(common, "stage_batch", self)

    def __call__(self, con, model, batch):
        with self.lock:
            self.active += 1
            self.attempts[batch] = self.attempts.get(batch, 0) + 1
            self.seen.append((model.source, batch, self.active))
            failing = self.fail(model, batch, self.attempts[batch])
        try:
            time.sleep(0.01)
            if failing:
                raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB")
            return self.real(con, model, batch)
        finally:
            with self.lock:
                self.active -= 1


def test_sources_staged_side_by_side_give_the_rows_of_one_at_a_time(tmp_path, monkeypatch, one_at_a_time):
    con = loaded(tmp_path / "two")
    watched = Watched(monkeypatch)
    try:
        added = stage_sources(con, list(MODELS.values()), batch_bytes=BATCH_BYTES)
        assert staged(con) == one_at_a_time
        assert added == {source: common.Staged(len(rows), after=0) for source, rows in one_at_a_time.items()}
        assert min(lines for lines, _ in added.values()) > 0
        assert max(active for _, _, active in watched.seen) == 2  # two sources were staged side by side
        alone = [(source, active) for source, batch, active in watched.seen if batch.bytes > BATCH_BYTES]
        assert alone and all(active == 1 for _, active in alone)  # a line larger than a batch: staged alone
        again = stage_sources(con, list(MODELS.values()), batch_bytes=BATCH_BYTES)
        assert again == dict.fromkeys(MODELS, common.Staged(0, after=1))  # load 1 is staged whole
        settings = "SELECT current_setting('checkpoint_threshold'), current_setting('preserve_insertion_order')"
        assert con.sql(settings).fetchall() == [("16.0 MiB", True)]
    finally:
        con.close()


def test_a_batch_out_of_memory_beside_another_is_staged_again_alone(tmp_path, monkeypatch, one_at_a_time):
    con = loaded(tmp_path / "two")
    first: dict = {}  # the first tula batch runs out of memory the first time, whatever runs beside it
    watched = Watched(monkeypatch, fail=lambda model, batch, attempts: (
        model.source == "tula" and first.setdefault(model.source, batch) == batch and attempts == 1))
    try:
        stage_sources(con, list(MODELS.values()), batch_bytes=BATCH_BYTES)
        assert staged(con) == one_at_a_time
        retried = [(batch, active) for source, batch, active in watched.seen if watched.attempts[batch] == 2]
        assert len(retried) == 2 and retried[0][0] == retried[1][0]
        assert retried[1][1] == 1  # the second attempt ran alone
    finally:
        con.close()


def test_a_batch_out_of_memory_alone_is_staged_in_halves_down_to_a_line(tmp_path, monkeypatch, one_at_a_time):
    """Alone, a batch has all the memory there is; one of several lines that still runs out is staged in
    halves, each its own batch, in line order, down to single lines: the rows are those of one batch."""
    con = loaded(tmp_path / "two")
    watched = Watched(monkeypatch, fail=lambda model, batch, attempts: model.source == "tula" and batch.lines > 1)
    try:
        stage_sources(con, list(MODELS.values()), batch_bytes=8 * BATCH_BYTES)  # a dozen tula lines a batch
        assert staged(con) == one_at_a_time
        tula = [batch for source, batch, _ in watched.seen if source == "tula"]
        assert any(batch.lines > 2 for batch in tula)  # split more than once
        staged_lines = [(b.first_file, b.first_line) for b in dict.fromkeys(tula) if b.lines == 1]
        assert staged_lines == sorted(staged_lines)  # a stream stages each file's lines in order
        assert len(staged_lines) == con.sql("SELECT count(*) FROM raw_tula").fetchall()[0][0]
    finally:
        con.close()


def test_a_batch_that_committed_before_it_ran_out_of_memory_is_not_staged_again(tmp_path, monkeypatch, one_at_a_time):
    """A checkpoint after a commit can run out of memory: the batch's rows are kept, and its retry (alone,
    then in halves) finds them staged and stages nothing twice."""
    con = loaded(tmp_path / "two")
    real, failed = common.stage_batch, []

    def commits_then_fails(cur, model, batch):
        rows = real(cur, model, batch)
        if model.source == "tula" and len(failed) < 2:  # beside, then alone
            failed.append(batch)
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 16.0 MiB")
        return rows

    monkeypatch.setattr(common, "stage_batch", commits_then_fails)
    try:
        added = stage_sources(con, list(MODELS.values()), batch_bytes=BATCH_BYTES)
        assert staged(con) == one_at_a_time
        assert added["tula"].lines == len(one_at_a_time["tula"])
        assert len(failed) == 2
    finally:
        con.close()


def test_a_line_out_of_memory_alone_is_an_error(tmp_path, monkeypatch):
    """A line that does not fit alone cannot be split: the error is raised (and nothing of its batch is
    kept), and the stream beside it stops after its current segment."""
    con = loaded(tmp_path / "two")
    Watched(monkeypatch, fail=lambda model, batch, attempts: model.source == "tula")
    try:
        with pytest.raises(duckdb.OutOfMemoryException):
            stage_sources(con, list(MODELS.values()), batch_bytes=BATCH_BYTES)
        assert con.sql("SELECT count(*) FROM stg_tula").fetchall() == [(0,)]
    finally:
        con.close()


def test_segments_are_whole_files_of_one_load_up_to_their_bytes():
    from transforms.staging.batches import segments

    def b(load, file, first, last, size):
        return {"load_id": load, "source_file": file, "first_line": first, "last_line": last, "bytes": size}

    blocks = [b(1, "a", 1, 256, 300), b(1, "a", 257, 300, 100), b(1, "b", 1, 10, 200), b(1, "c", 1, 5, 900),
              b(1, "d", 1, 2, 100), b(2, "e", 1, 3, 50), b(2, "f", 1, 3, 50)]
    # up to 600 bytes: a (400) and b (200) fit; c (900) is larger, a segment of its own, and d does not
    # join it; load 2 starts a new segment
    got = [[(x["source_file"], x["first_line"]) for x in segment] for segment in segments(blocks, 600)]
    assert got == [[("a", 1), ("a", 257), ("b", 1)], [("c", 1)], [("d", 1)], [("e", 1), ("f", 1)]]


def test_a_stop_in_one_stream_leaves_every_file_a_prefix_that_the_next_staging_completes(
        tmp_path, monkeypatch, one_at_a_time):
    """The second batch of one tula file fails after its first committed; the other stream ends the segment it
    is staging. Each file's staged lines are then its first lines (its lines up to its last staged
    line), and staging again adds exactly the rest."""
    con = loaded(tmp_path / "two")
    failing = "tula/2026-10/part-1.jsonl"  # 11 lines of about 470 bytes: two to a batch
    real = common.stage_batch

    def stage_batch(con, model, batch):
        time.sleep(0.01)
        if batch.first_file == failing and batch.first_line == 3:
            raise RuntimeError("stopped")
        return real(con, model, batch)

    monkeypatch.setattr(common, "stage_batch", stage_batch)
    try:
        with pytest.raises(RuntimeError, match="stopped"):
            stage_sources(con, list(MODELS.values()), batch_bytes=BATCH_BYTES)
        for model in MODELS.values():
            raw = con.sql(f"SELECT source_file, line_number FROM raw_{model.source} ORDER BY ALL").fetchall()
            done = set(con.sql(f"SELECT DISTINCT source_file, line_number FROM {model.table}").fetchall())
            for file in {f for f, _ in raw}:
                lines = [n for f, n in raw if f == file]
                staged_lines = [n for n in lines if (file, n) in done]
                assert staged_lines == lines[:len(staged_lines)], file
        partial = con.sql(f"SELECT DISTINCT line_number FROM stg_tula WHERE source_file = '{failing}' ORDER BY 1")
        assert partial.fetchall() == [(1,), (2,)]
        monkeypatch.setattr(common, "stage_batch", real)
        added = stage_sources(con, list(MODELS.values()), batch_bytes=BATCH_BYTES)
        assert added["tula"].after == 0 and added["tula"].lines > 0
        assert staged(con) == one_at_a_time
    finally:
        con.close()
