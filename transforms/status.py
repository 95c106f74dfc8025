"""What a tally installation holds: what is loaded, the last runs, what waits, and what is published.

Read-only and quick: each database is opened read-only, read with a few small queries and closed. The
published warehouse is never written in place (a run renames a new file over it), so reading it neither
blocks nor waits for a run. The working database is locked while a run writes it: `read_state` then
raises `StateLocked`, and the caller shows what the published file holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from transforms.raw.dump_files import SOURCES
from transforms.ownership import error_text
from transforms.raw.refused import Refused, read_refused
from transforms.sql_files import read_sql
from transforms.warehouse import PUBLISHED_TABLES, state_path

_LOCK = re.compile(r"PID (?P<pid>[0-9]+)")


class StateLocked(Exception):
    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(f"{path} is locked by another process" + (f" (PID {pid})" if pid else ""))
        self.pid = pid


class StateUnreadable(Exception):
    """The working database exists but DuckDB cannot read it (damaged, truncated, not a database); the
    next `tally run` moves it aside and rebuilds it (``transforms.ownership``)."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"{path} cannot be read: {detail}")
        self.path = path
        self.detail = detail


@dataclass
class StateStatus:
    path: Path
    loaded: pl.DataFrame  # per source: source, files, lines, bytes, last_loaded_at (every source, 0 if none)
    runs: pl.DataFrame  # the newest `tally run`s, newest first (empty before the first one)
    last_change_at: datetime | None  # the newest recomputation of outcomes, by any run
    stale_months: list  # billing months whose invoices wait for a rebuild
    unpublished: bool  # the working database holds results the published warehouse does not
    refused: list[Refused] = field(default_factory=list)  # the input files the latest load refused (SPEC §1)


@dataclass
class PublishedStatus:
    path: Path
    published_at: datetime  # when the file was last renamed into place
    size: int
    reconciliation: pl.DataFrame
    invoices_by_month: pl.DataFrame  # period_start, currency, invoices, total, lines, events
    invoices: int
    records: int
    tables: dict[str, int] = field(default_factory=dict)
    # SPEC §7, empty for a warehouse published before the lifecycle: per month, closed or open, the numbers
    # issued, open drafts and pending adjustments; and the last issued number per prefix and year.
    documents_by_month: pl.DataFrame = field(default_factory=pl.DataFrame)
    last_numbers: pl.DataFrame = field(default_factory=pl.DataFrame)


def read_state(db: Path, runs: int = 5) -> StateStatus | None:
    """The working database beside ``db``, or None when there is none; StateLocked while a run writes it,
    StateUnreadable when DuckDB cannot read it."""
    path = state_path(db)
    if not path.is_file():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        if "lock" not in str(error).lower():
            raise StateUnreadable(path, error_text(error)) from None
        found = _LOCK.search(str(error))
        raise StateLocked(path, int(found["pid"]) if found else None) from None
    try:
        return _read_state(con, path, runs)
    except duckdb.Error as error:
        raise StateUnreadable(path, error_text(error)) from None
    finally:
        con.close()


def _read_state(con, path: Path, runs: int) -> StateStatus:
    tables = {name for (name,) in con.sql("SELECT table_name FROM duckdb_tables()").fetchall()}
    loaded = _loaded(con) if "raw_files" in tables else _loaded_empty()
    run_log = (con.sql("SELECT * FROM run_log ORDER BY run_number DESC LIMIT ?", params=[runs]).pl()
               if "run_log" in tables else pl.DataFrame())
    last_change = (con.sql("SELECT max(changed_at) FROM int_changes").fetchall()[0][0]
                   if "int_changes" in tables else None)
    stale = ([p for (p,) in con.sql("SELECT period_start FROM int_stale_periods ORDER BY 1").fetchall()]
             if "int_stale_periods" in tables else [])
    unpublished = _unpublished(con, tables)
    return StateStatus(path, loaded, run_log, last_change, stale, unpublished, read_refused(con))


def _loaded(con) -> pl.DataFrame:
    return con.sql(
        """SELECT s.source, count(f.source) AS files, coalesce(sum(f.line_count), 0)::BIGINT AS lines,
                  coalesce(sum(f.byte_size), 0)::BIGINT AS bytes, max(f.loaded_at) AS last_loaded_at
           FROM (SELECT unnest(?) AS source) s LEFT JOIN raw_files f USING (source)
           GROUP BY s.source ORDER BY list_position(?, s.source)""",
        params=[list(SOURCES), list(SOURCES)]).pl()


def _loaded_empty() -> pl.DataFrame:
    return pl.DataFrame({"source": list(SOURCES), "files": [0] * 4, "lines": [0] * 4, "bytes": [0] * 4,
                         "last_loaded_at": [None] * 4},
                        schema_overrides={"last_loaded_at": pl.Datetime("us", "UTC")})


def _unpublished(con, tables: set[str]) -> bool:
    if not {"int_changes", "int_consumed_changes", "int_invoice_writes"} <= tables:
        return False
    changes, published = con.sql(
        """SELECT (SELECT coalesce(max(change_id), 0) FROM int_changes),
                  (SELECT coalesce(max(change_id), 0) FROM int_consumed_changes WHERE consumer = 'publish')"""
    ).fetchall()[0]
    writes, published_writes = con.sql("SELECT writes, published FROM int_invoice_writes").fetchall()[0]
    return changes > published or writes > published_writes


def read_published(db: Path) -> PublishedStatus | None:
    """The published warehouse, or None when nothing was published yet."""
    if not db.is_file():
        return None
    stat = db.stat()
    con = duckdb.connect(str(db), read_only=True)
    try:
        reconciliation = con.sql("SELECT * FROM reconciliation ORDER BY list_position(?, source)",
                                 params=[list(SOURCES)]).pl()
        by_month = con.sql(
            """SELECT period_start, currency, count(*) AS invoices, sum(total) AS total,
                      sum(line_count)::BIGINT AS lines, sum(event_count)::BIGINT AS events
               FROM invoices GROUP BY ALL ORDER BY period_start, currency""").pl()
        tables = {name: con.sql(f'SELECT count(*) FROM "{name}"').fetchall()[0][0] for name in PUBLISHED_TABLES}
        lifecycle = {}
        if con.sql("SELECT 1 FROM duckdb_tables() WHERE table_name = 'documents'").fetchall():
            lifecycle = {"documents_by_month": con.sql(read_sql(__file__, "status_documents.sql")).pl(),
                         "last_numbers": con.sql(
                             "SELECT regexp_extract(document_number, '^(.*)-[0-9]{4}-[0-9]+$', 1) AS prefix, "
                             "year(issue_date) AS issue_year, max(document_number) AS last_number, count(*) AS issued "
                             "FROM documents WHERE status = 'issued' GROUP BY ALL ORDER BY ALL").pl()}
    finally:
        con.close()
    return PublishedStatus(db, datetime.fromtimestamp(stat.st_mtime, UTC), stat.st_size, reconciliation,
                           by_month, tables["invoices"], int(reconciliation["records"].sum()), tables, **lifecycle)
