"""What staging has still to do: the raw lines after each file's last staged line, cut into segments.

One stream stages a file's lines in line order, a batch per transaction, so a file's staged lines are
always a prefix of it, and what is pending is known per file (``pending_files.sql``). Whole files of one
load make a segment (``batches.segments``), the unit a stream stages (``streams``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import duckdb

from transforms.sql_files import read_sql
from transforms.staging import batches
from transforms.staging.common import VendorModel, raw_source


@dataclass(frozen=True)
class Segment:
    """Batches of whole files of one source's load (``batches.segments``), staged in order on one stream."""

    model: VendorModel
    batches: list[batches.Batch]

    @property
    def bytes(self) -> int:
        return sum(batch.bytes for batch in self.batches)


class Pending(NamedTuple):
    """One source's raw lines not staged yet, as blocks (``batches.pending_blocks``), and the newest load
    that is staged whole (``staged_through``)."""

    model: VendorModel
    blocks: list[dict]
    after: int

    @property
    def bytes(self) -> int:
        return sum(block["bytes"] for block in self.blocks)

    def segments(self, batch_bytes: int, segment_bytes: int) -> list[Segment]:
        return [Segment(self.model, list(batches.pack(blocks, batch_bytes)))
                for blocks in batches.segments(self.blocks, segment_bytes)]


def pending_lines(con: duckdb.DuckDBPyConnection, model: VendorModel, batch_bytes: int) -> Pending:
    """The model's raw lines not staged yet (cut whole before staging starts: cutting reads
    ``raw_source``, which a window points elsewhere)."""
    with _pending_files(con, model):
        after, any_pending = _staged_through(con, model)
        return Pending(model, batches.pending_blocks(con, batch_bytes) if any_pending else [], after)


def staged_through(con: duckdb.DuckDBPyConnection, model: VendorModel) -> int:
    """The newest load all of whose lines are staged: what staging adds next lies above it (a load that
    a stopped run staged in part is not through)."""
    with _pending_files(con, model):
        return _staged_through(con, model)[0]


def _staged_through(con: duckdb.DuckDBPyConnection, model: VendorModel) -> tuple[int, bool]:
    """``staged_through``, and whether any line is pending, from ``pending_files``."""
    newest, first_pending = con.sql(f"""SELECT (SELECT coalesce(max(load_id), 0) FROM {model.table}),
                                               (SELECT min(load_id) FROM pending_files)""").fetchall()[0]
    if first_pending is None:
        return newest, False
    return min(newest, first_pending - 1), True


@contextmanager
def _pending_files(con: duckdb.DuckDBPyConnection, model: VendorModel) -> Iterator[None]:
    """The temp table ``pending_files`` of the model's source (``pending_files.sql``), while ``raw_source``
    points at its raw table."""
    with raw_source(con, model):
        con.execute(f"CREATE OR REPLACE TEMP VIEW staged_source AS SELECT * FROM {model.table}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE pending_files AS {read_sql(__file__, 'pending_files.sql')}")
        try:
            yield
        finally:
            con.execute("DROP TABLE pending_files")
            con.execute("DROP VIEW staged_source")
