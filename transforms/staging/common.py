"""Staging: one model per vendor turns its raw lines into the canonical shape of usage lines.

Each vendor model is a SQL file over `envelopes` (the shared envelope rules applied to the raw lines
being staged) that returns, per usage line, the columns of ``STAGED_TABLE_COLUMNS`` it knows (the rest
take their defaults) plus ``problem`` (``"<reason>: <detail>"`` for steps 1–4 of SPEC §2, NULL when
the record passes). Staging is a pure
function of each raw line, so it runs once per line, over the lines not yet staged, in batches bounded
by their bytes (``batches``), in segments of whole files staged side by side (``streams``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import duckdb
import polars as pl

from transforms.sql_files import read_sql
from transforms.staging import batches
from transforms.staging.exact_numbers import flag_maybe_inexact, inexact_number_paths

if TYPE_CHECKING:
    from transforms.staging.pending import Segment
    from transforms.staging.streams import MemoryGate

STAGED_TABLE_COLUMNS = """
    source_file      VARCHAR NOT NULL,
    line_number      BIGINT  NOT NULL,
    record_index     INTEGER NOT NULL DEFAULT 0,
    property_index   INTEGER NOT NULL DEFAULT 0,
    received_at      TIMESTAMPTZ,
    received_at_text VARCHAR,
    reason           VARCHAR,
    detail           VARCHAR,
    vendor_rejected  BOOLEAN NOT NULL,
    replay           BOOLEAN NOT NULL DEFAULT false,
    dedup_key        VARCHAR,
    version_key      VARCHAR,
    version_at       TIMESTAMPTZ,
    version_sub_us   VARCHAR,
    status           VARCHAR,
    void_requested   BOOLEAN NOT NULL DEFAULT false,
    customer_key     VARCHAR,
    member           VARCHAR,
    event_type       VARCHAR,
    quantity         DECIMAL(38, 18),
    properties       VARCHAR,
    unit_price       DECIMAL(38, 18),
    occurred_at      TIMESTAMPTZ,
    load_id          BIGINT  NOT NULL
"""

# DuckDB's JSON reader also accepts trailing commas, NaN and Infinity (any case, also nan, inf); strict
# JSON does not. Lines that may hold one are checked in Python (ILIKE scans faster than a (?i) regex).
_MAYBE_LENIENT_JSON = r"envelope ILIKE '%nan%' OR envelope ILIKE '%inf%' OR regexp_matches(envelope, ',\s*[\]}]')"


@dataclass(frozen=True)
class VendorModel:
    source: str
    sql: str

    @property
    def table(self) -> str:
        return f"stg_{self.source}"


def staging_table_sql(model: VendorModel) -> str:
    return f"CREATE TABLE IF NOT EXISTS {model.table} ({STAGED_TABLE_COLUMNS});"


@contextmanager
def staging_settings(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The DuckDB settings staging runs under, then back to what they were. They are the database's, not
    a connection's: set once for all the streams of ``streams.stage_sources``.

    - DuckDB runs the parts of a UNION ALL (``_read_batch``) in parallel only when the order of the rows it
      produces may change. Within staging it does not matter: staged rows are never read in row order
      (resuming finds the last staged line by its file and number), and the pending lines are ordered.
    - The write-ahead log is checkpointed at a share of the memory limit (``batches.checkpoint_bytes``)."""
    with _settings(con, preserve_insertion_order=False,
                   checkpoint_threshold=f"{batches.checkpoint_bytes(con)} bytes"):
        yield


class Staged(NamedTuple):
    """What staging did for one source: the usage lines it added, and the newest load that was staged
    whole before it began (what it added lies above it)."""

    lines: int
    after: int


def stage_segment(con: duckdb.DuckDBPyConnection, segment: Segment, batch_bytes: int, gate: MemoryGate) -> int:
    """Stage a segment's batches in order (``staging_settings`` in force), each its own INSERT and
    commit, each let through by ``gate``; returns the usage lines added."""
    with raw_source(con, segment.model, gate):
        return sum(_stage_window(con, segment.model, window, batch_bytes, gate)
                   for window in batches.windows(segment.batches, batch_bytes, WINDOW_BATCHES, VECTOR_LINES))


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A connection of its own to the database of ``con``, in the same time zone (a session setting)."""
    time_zone = con.sql("SELECT current_setting('TimeZone')").fetchall()[0][0]
    cur = con.cursor()
    cur.execute("SET TimeZone = ?", [time_zone])
    return cur


@contextmanager
def raw_source(con: duckdb.DuckDBPyConnection, model: VendorModel, gate: MemoryGate | None = None) -> Iterator[None]:
    """The view ``raw_source`` over the model's raw table, which the staging SQL files read. In a stream
    (``gate``), creating and dropping it go through the gate too: beside another stream's batch, even a
    view may find no memory."""
    def run(work) -> None:
        if gate is None:
            work()
        else:
            gate.stage(work, alone=False)

    run(lambda: _point_raw_source(con, f"raw_{model.source}"))
    try:
        yield
    finally:
        run(lambda: con.execute("DROP VIEW raw_source"))


def _point_raw_source(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    con.execute(f"CREATE OR REPLACE TEMP VIEW raw_source AS SELECT * FROM {relation}")


# A window of batches of long lines is read from the raw table at once (``batches.windows``): at most this
# many batches' bytes, held in memory beside the batch being staged.
WINDOW_BATCHES = 4


def _stage_window(con: duckdb.DuckDBPyConnection, model: VendorModel, window: list[batches.Batch],
                  batch_bytes: int, gate: MemoryGate) -> int:
    """Stage a window's batches one by one, from a copy of the window's raw lines when it holds several
    (read and dropped through ``gate`` too: beside another stream's window and batch it may not fit). A
    batch of several lines that runs out of memory even alone is staged in halves (``batches.halves``),
    down to a line: only a line that does not fit alone is an error."""
    def stage(batch: batches.Batch) -> int:
        tried = False

        def attempt() -> int:
            # An attempt that ran out of memory may have committed before it did (in a checkpoint after its
            # commit): a batch is staged again only when none of its rows are.
            nonlocal tried
            done = _staged_rows(con, model, batch) if tried else 0
            tried = True
            return done or stage_batch(con, model, batch)

        try:
            return gate.stage(attempt, alone=batch.needs_all_memory(batch_bytes))
        except duckdb.OutOfMemoryException:  # alone too: its halves in order, each its own batch
            if done := _staged_rows(con, model, batch):
                return done
            if not (halves := gate.stage(lambda: batches.halves(con, batch), alone=False)):
                raise
            return sum(stage(half) for half in halves)

    if len(window) == 1:
        return stage(window[0])
    def read_window() -> None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE raw_window AS {read_sql(__file__, 'raw_batch.sql')}",
                    batches.span(window).params())
        _point_raw_source(con, "raw_window")

    def drop_window() -> None:
        _point_raw_source(con, f"raw_{model.source}")
        con.execute("DROP TABLE raw_window")

    gate.stage(read_window, alone=False)
    try:
        return sum(stage(batch) for batch in window)
    finally:
        gate.stage(drop_window, alone=False)


def _staged_rows(con: duckdb.DuckDBPyConnection, model: VendorModel, batch: batches.Batch) -> int:
    """The staged rows of ``batch``'s lines: an INSERT is all or nothing, so any means it committed."""
    return con.execute(f"SELECT count(*) FROM {model.table} SEMI JOIN ({read_sql(__file__, 'raw_batch.sql')}) "
                       "USING (source_file, line_number)", batch.params()).fetchall()[0][0]


def stage_batch(con: duckdb.DuckDBPyConnection, model: VendorModel, batch: batches.Batch) -> int:
    """Stage the raw lines of ``batch`` in one INSERT (one transaction). The batch's lines are read from
    ``raw_source`` (the raw table, or its window's copy) once, into temporary tables (``_read_batch``):
    the lenient-JSON check and the model each read them, and a read of the raw table decompresses more
    than the batch.

    The model runs once as if every line that may be JSON were (``json_ok``, ``_MAYBE_JSON``); when it
    meets a line that is not, nothing was inserted, the lines are judged by ``json_valid`` in a
    statement of their own, and the model runs again."""
    parts = _batch_parts(con)
    try:
        dealt = _read_batch(con, batch, parts)
        con.register("non_strict_json", _non_strict_json_lines(con))
        con.register("inexact_numbers", _inexact_number_lines(con))
        try:
            return _insert_staged(con, model)
        except duckdb.InvalidInputException:  # a line that is not JSON (else the same error again below)
            for part in dealt:
                con.execute(f"UPDATE {part} SET json_ok = json_valid(envelope) WHERE utf8_valid")
            return _insert_staged(con, model)
    finally:
        con.unregister("non_strict_json")
        con.unregister("inexact_numbers")
        con.execute("DROP VIEW IF EXISTS raw_batch")
        for part in parts:
            con.execute(f"DROP TABLE IF EXISTS {part}")


@contextmanager
def _settings(con: duckdb.DuckDBPyConnection, **values) -> Iterator[None]:
    """DuckDB settings for the length of a block, then back to what they were."""
    kept = {name: con.sql("SELECT current_setting(?)", params=[name]).fetchall()[0][0] for name in values}
    try:
        for name, value in values.items():
            con.execute(f"SET {name} = ?", [value])
        yield
    finally:
        for name, value in kept.items():
            con.execute(f"SET {name} = ?", [value])


# A line not shaped {…} (most lines that are not JSON: truncated ones) is judged by json_valid as it is
# read, so that it does not make the model run twice over its batch. A CASE: DuckDB computes both sides of an OR.
_MAYBE_JSON = "CASE WHEN starts_with(envelope, '{') AND ends_with(envelope, '}') THEN true ELSE json_valid(envelope) END"
VECTOR_LINES = 2048  # a part of fewer lines than a DuckDB vector is not worth a thread


def _batch_parts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """One temporary table of a batch's raw lines per DuckDB thread (``_read_batch``)."""
    threads = con.sql("SELECT current_setting('threads')").fetchall()[0][0]
    return [f"raw_batch_{k}" for k in range(max(1, threads))]


def _read_batch(con: duckdb.DuckDBPyConnection, batch: batches.Batch, parts: list[str]) -> list[str]:
    """The view ``raw_batch`` over the batch's raw lines, dealt by line number into ``parts``; returns
    the parts it used. DuckDB scans a table on one thread per row group (122,880 rows) and a batch is
    far fewer lines: the union of the parts is what lets staging use every core (with
    ``preserve_insertion_order`` off). A batch of a few long lines (paygentic's) stays whole: its events
    are spread over the threads later in the model, and copying its megabytes of lines cost more than
    the split saved."""
    lines = con.execute(f"CREATE OR REPLACE TEMP TABLE {parts[0]} AS SELECT *, {_MAYBE_JSON} AS json_ok "
                        f"FROM ({read_sql(__file__, 'raw_batch.sql')})", batch.params()).fetchall()[0][0]
    dealt = parts if lines >= VECTOR_LINES * len(parts) else parts[:1]
    for k, part in enumerate(dealt[1:], start=1):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {part} AS FROM {parts[0]} WHERE line_number % ? = ?", [len(dealt), k])
    if len(dealt) > 1:
        con.execute(f"DELETE FROM {parts[0]} WHERE line_number % ? <> 0", [len(dealt)])
    con.execute(f"CREATE OR REPLACE TEMP VIEW raw_batch AS {' UNION ALL '.join(f'FROM {part}' for part in dealt)}")
    return dealt


def _insert_staged(con: duckdb.DuckDBPyConnection, model: VendorModel) -> int:
    return con.execute(
        f"""INSERT INTO {model.table} BY NAME
            WITH envelopes AS ({read_sql(__file__, 'envelope.sql')})
            SELECT * EXCLUDE (problem),
                   nullif(split_part(problem, ': ', 1), '') AS reason,
                   CASE WHEN problem IS NOT NULL THEN substr(problem, strpos(problem, ': ') + 2) END AS detail
            FROM ({model.sql}) staged
            JOIN (SELECT DISTINCT source_file, load_id FROM raw_batch) USING (source_file)""",
    ).fetchall()[0][0]


def _non_strict_json_lines(con) -> pl.DataFrame:
    """Lines that DuckDB parses but strict JSON rejects; only suspicious lines are checked in Python."""
    suspects = con.sql(
        f"SELECT source_file, line_number, envelope FROM raw_batch WHERE utf8_valid AND ({_MAYBE_LENIENT_JSON})"
    ).fetchall()
    rejected = [(f, n) for f, n, text in suspects if not is_strict_json(text)]
    return pl.DataFrame(
        rejected, schema={"source_file": pl.String, "line_number": pl.Int64}, orient="row"
    )


def _inexact_number_lines(con) -> pl.DataFrame:
    """Lines with numbers DuckDB does not read exactly (``exact_numbers``), with those numbers' paths
    and the paths of those that are non-integers of at most 15 significant digits."""
    suspects = con.sql(f"SELECT source_file, line_number, envelope FROM ({flag_maybe_inexact('raw_batch')}) "
                       "WHERE utf8_valid AND maybe_inexact")
    rows = [(f, n, *found) for f, n, text in suspects.fetchall() if (found := inexact_number_paths(text))[0]]
    return pl.DataFrame(rows, schema={"source_file": pl.String, "line_number": pl.Int64,
                                      "paths": pl.List(pl.String), "non_integers": pl.List(pl.String)},
                        orient="row")


def is_strict_json(text: str) -> bool:
    def reject_constant(name: str):
        raise ValueError(name)

    try:
        json.loads(text, parse_constant=reject_constant)
    except ValueError:
        return False
    return True
