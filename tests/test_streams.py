"""Staging several sources at once (transforms.staging.streams): the shipped sample dumps staged in two
streams give the rows staging one source at a time gives, and the memory gate keeps a batch that needs all
the memory (a line larger than a batch, a batch that ran out of memory beside another) alone."""

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
    """``common._stage_batch``, counting the batches being staged at once (each held a moment, so that two
    streams meet), and noting, per batch, how many were being staged while it was."""

    def __init__(self, monkeypatch, fail=lambda model, batch, attempts: False):
        self.real, self.fail = common._stage_batch, fail
        self.lock, self.active, self.seen = threading.Lock(), 0, []
        self.attempts: dict = {}
        monkeypatch.setattr(common, "_stage_batch", self)

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


def test_out_of_memory_alone_is_an_error(tmp_path, monkeypatch):
    """Alone, a batch has all the memory there is: running out again is raised (and nothing of the batch is
    kept), and the stream beside it stops after its current source."""
    con = loaded(tmp_path / "two")
    first: dict = {}
    Watched(monkeypatch, fail=lambda model, batch, attempts: (
        model.source == "tula" and first.setdefault(model.source, batch) == batch))
    try:
        with pytest.raises(duckdb.OutOfMemoryException):
            stage_sources(con, list(MODELS.values()), batch_bytes=BATCH_BYTES)
        assert con.sql("SELECT count(*) FROM stg_tula").fetchall() == [(0,)]
    finally:
        con.close()
