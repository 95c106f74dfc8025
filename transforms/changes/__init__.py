"""The change log that makes runs incremental.

Resolution (steps 5–8) is the only step that looks across records. Each time it runs on new staged
lines it records a *change*: the lines whose outcome it recomputed, or a full rebuild (first run, or
reference data that differ from the last run's). Every later layer is a function of each line alone
(given the reference data), so it keeps a watermark of the changes it applied and redoes only their
lines. A layer that has nothing pending does no work, which is what makes a run with nothing new cheap.

Every row of the intermediate tables carries the ``change_id`` that last resolved its line. A layer
reads the rows changed since its watermark with ``change_id > watermark``: rows are appended, so the
recent ones sit in the last row groups and DuckDB skips the rest by their min/max, instead of
joining every row of a wide table with the changed lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from transforms.raw.dump_files import SOURCES
from transforms.sql_files import read_sql

LINE = "source, source_file, line_number"  # a dump line: the unit of change
CHANGED_LINES = "changed_lines"  # temp table: the lines a consumer must redo
CONSUMERS = ("priced_usage", "publish")


@dataclass(frozen=True)
class Pending:
    """What a consumer must redo: everything (``full``), or the lines in the ``changed_lines`` temp table."""

    change_id: int
    full: bool
    since: int = 0  # the newest change the consumer had applied before these


SCHEMA_SQL = read_sql(__file__, "schema.sql")


def current_reference_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """The fingerprint of the reference data in the ``ref_*`` tables (written with them)."""
    found = con.sql("SELECT 1 FROM duckdb_tables() WHERE table_name = 'ref_fingerprint' AND NOT temporary").fetchall()
    return con.sql("SELECT sha256 FROM ref_fingerprint").fetchall()[0][0] if found else None


def latest_reference_hash(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.sql("SELECT reference_hash FROM int_changes ORDER BY change_id DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else None


def next_change_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.sql("SELECT coalesce(max(change_id), 0) + 1 FROM int_changes").fetchall()[0][0]


def record_change(con: duckdb.DuckDBPyConnection, change_id: int, full: bool, reference_hash: str,
                  lines: str | None) -> None:
    """Log change ``change_id`` (from ``next_change_id``); ``lines`` names a relation of (source,
    source_file, line_number) unless ``full``.

    Call inside the transaction that rewrites the resolved lines, so the log never disagrees with them.
    """
    con.execute("INSERT INTO int_changes VALUES (?, ?, ?, now())", [change_id, full, reference_hash])
    if full:
        con.execute("DELETE FROM int_changed_lines")
    else:
        con.execute(
            f"INSERT INTO int_changed_lines SELECT DISTINCT ?, {LINE} FROM {lines}",
            [change_id],
        )
    # Lines every consumer has applied are no longer needed.
    con.execute(
        """DELETE FROM int_changed_lines WHERE change_id <= (
               SELECT CASE WHEN count(*) = len(?) THEN min(change_id) ELSE 0 END
               FROM int_consumed_changes WHERE list_contains(?, consumer))""",
        [list(CONSUMERS), list(CONSUMERS)],
    )


def pending(con: duckdb.DuckDBPyConnection, consumer: str) -> Pending | None:
    """The changes ``consumer`` has not applied yet, or None. Unless full, fills ``changed_lines``."""
    applied = applied_change(con, consumer)
    latest, full = con.sql(
        "SELECT max(change_id), coalesce(bool_or(full_rebuild), false) FROM int_changes WHERE change_id > ?",
        params=[applied],
    ).fetchall()[0]
    if latest is None:
        return None
    if not full:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {CHANGED_LINES} AS
                SELECT DISTINCT {LINE} FROM int_changed_lines WHERE change_id > ?""",
            [applied],
        )
    return Pending(latest, full, applied)


def applied_change(con: duckdb.DuckDBPyConnection, consumer: str) -> int:
    """The newest change ``consumer`` has applied (0 for none)."""
    return con.sql("SELECT coalesce(max(change_id), 0) FROM int_consumed_changes WHERE consumer = ?",
                   params=[consumer]).fetchall()[0][0]


def mark_applied(con: duckdb.DuckDBPyConnection, consumer: str, change: Pending) -> None:
    con.execute(
        "INSERT OR REPLACE INTO int_consumed_changes VALUES (?, ?)", [consumer, change.change_id]
    )


def rows_since(table: str, change: Pending) -> tuple[str, list]:
    """The rows of an intermediate ``table`` that ``change`` touches (all of them after a full rebuild),
    as a relation and its parameters."""
    return (table, []) if change.full else (f"{table} WHERE change_id > ?", [change.since])


def define_input(con: duckdb.DuckDBPyConnection, name: str, relation: str, change: Pending,
                 params: list | None = None) -> None:
    """``name``: the temp relation a step reads its input lines from.

    After a full rebuild it is a view over the whole table. For changed lines it is a temp table,
    filled once: the steps read their input several times, and each read of a view would join the
    whole table with the changed lines again.
    """
    for kind, catalog, column in (("VIEW", "duckdb_views()", "view_name"), ("TABLE", "duckdb_tables()", "table_name")):
        if con.sql(f"SELECT 1 FROM {catalog} WHERE temporary AND {column} = ?", params=[name]).fetchall():
            con.execute(f"DROP {kind} {name}")
    if change.full:  # a view cannot take parameters; a full rebuild's input has none
        con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM {relation}")
    else:
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {relation}", params or [])


def delete_lines(con: duckdb.DuckDBPyConnection, table: str, lines: str) -> None:
    """Delete the rows of ``table`` that lie on the lines of the relation ``lines``."""
    match = " AND ".join(f"t.{c} = s.{c}" for c in LINE.split(", "))
    con.execute(f"DELETE FROM {table} t USING {lines} s WHERE {match}")


def rows_on_lines(con: duckdb.DuckDBPyConnection, prefix: str, lines: str) -> tuple[str, list]:
    """The rows of the per-source tables ``<prefix><source>`` (raw or staged) on the dump lines of the
    relation ``lines`` (source, source_file, line_number), as a relation and its parameters.

    Lines of the loads not resolved yet are found by ``load_id``: they were appended, so DuckDB skips
    the older row groups by their min/max. Older lines are found by ``rowid``, after a scan of the key
    columns alone (raw and staged tables are only ever appended to, so their rowids do not move). A join
    of a whole table with ``lines`` reads every column of every row, the raw envelopes included.
    """
    floors = _resolved_loads(con)
    parts, params = [], []
    for source in SOURCES:
        table, floor = f"{prefix}{source}", floors.get(source, 0)
        wanted = f"(SELECT source_file, line_number FROM {lines} WHERE source = ?)"
        older_rowids = [row[0] for row in con.sql(
            f"SELECT rowid FROM {table} SEMI JOIN {wanted} USING (source_file, line_number) WHERE load_id <= ?",
            params=[source, floor]).fetchall()]
        new_lines = f"SELECT * FROM ({_new_rows(prefix, source)}) SEMI JOIN {wanted} USING (source_file, line_number)"
        older_lines = f"SELECT ?::VARCHAR AS source, * FROM {table} WHERE rowid IN (SELECT unnest(?::BIGINT[]))"
        parts += [new_lines, older_lines]
        params += [source, floor, source, source, older_rowids]
    return f"({' UNION ALL '.join(parts)})", params


def new_staged_rows(con: duckdb.DuckDBPyConnection) -> tuple[str, list]:
    """The staged rows of the loads resolution has not taken in yet, with their source, as a relation and
    its parameters: a constant floor per source lets DuckDB skip the older row groups."""
    floors = _resolved_loads(con)
    parts = [_new_rows("stg_", source) for source in SOURCES]
    return f"({' UNION ALL '.join(parts)})", [value for source in SOURCES for value in (source, floors.get(source, 0))]


def _new_rows(prefix: str, source: str) -> str:
    """The rows of ``<prefix><source>`` above a load (the parameters: the source, the load_id)."""
    return f"SELECT ?::VARCHAR AS source, * FROM {prefix}{source} WHERE load_id > ?"


def _resolved_loads(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per source, the newest load whose staged lines resolution has taken in."""
    return dict(con.sql("SELECT source, load_id FROM int_resolved_loads").fetchall())
