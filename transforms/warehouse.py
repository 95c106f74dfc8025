"""Storage: the pipeline's working database and the warehouse file analysts query.

The pipeline keeps every layer in a working DuckDB file of its own (``<db>.state.duckdb``). The
warehouse (``<db>``) is published at the end of a run: the new state is written to a temporary file
beside it, checkpointed, then renamed over the old one. A rename is atomic, so analysts always see one
complete run; a session that has the old file open keeps reading it, and the pipeline never waits
for, nor locks out, an analyst. Beside the five mart tables the file holds ``customers`` (what the invoice
documents show of a customer, so they are rendered from the published file alone), the analyst views
and a comment on every table, view and column (``transforms.marts.description``), applied before the
rename.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import threading
from pathlib import Path

import duckdb
import polars as pl

from transforms import audit, changes, intermediate, lifecycle, marts, reference_pricing
from transforms.changes import (
    CHANGED_LINES,
    Pending,
    current_reference_fingerprint,
    delete_lines,
    mark_applied,
    pending,
)
from transforms.marts import PUBLISHED_RECORD_TABLES, QUARANTINE_TABLES, RECORD_VIEWS, description
from transforms.memory import DEFAULT_MEMORY_LIMIT
from transforms.raw.dump_files import Stamp, file_stamp
from transforms.raw import load as raw_load
from transforms.reference import Reference
from transforms.sql_files import read_sql
from transforms.staging import MODELS
from transforms.staging import common as staging_common
from transforms.staging.common import staging_table_sql
from transforms.transactions import transaction

RECORD_TABLES = PUBLISHED_RECORD_TABLES  # one row per usage line, record or line: changed lines replaced
SUMMARY_TABLES = ("invoices", "invoice_lines", "reconciliation")  # small: copied whole
PUBLISHED_TABLES = (*SUMMARY_TABLES, *RECORD_VIEWS)  # the five tables of SPEC §5 (quarantine: a view)
# What the documents read beside them (customers), and the invoice lifecycle (SPEC §7): copied whole.
DOCUMENT_TABLES = ("customers", "documents", "document_lines", "document_line_records")


def missing_published_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The published tables (SPEC §5) that the database of ``con`` lacks: none for a tally warehouse."""
    names = {name for (name,) in con.sql("SELECT table_name FROM duckdb_tables() UNION ALL "
                                         "SELECT view_name FROM duckdb_views()").fetchall()}
    return sorted(set(PUBLISHED_TABLES) - names)


def state_path(db: Path) -> Path:
    return db.with_name(db.stem + ".state.duckdb")


def connect_state(db: Path, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """Open the working database with every layer's tables, views and macros in place.

    DuckDB's memory is capped (it spills to ``<state>.tmp`` beyond that) so a run's footprint stays
    flat however large the dumps grow.
    """
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(state_path(db)), config={"memory_limit": memory_limit})
    con.execute("SET TimeZone = 'UTC'")
    if _schema_fingerprint(con) != SCHEMA_FINGERPRINT:
        _create_schema(con)
    return con


# Every statement that creates the working database's tables, views and macros, in order.
SCHEMA_STATEMENTS = (raw_load.SCHEMA_SQL, changes.SCHEMA_SQL, audit.SCHEMA_SQL,
                     *(staging_table_sql(model) for model in MODELS.values()),
                     read_sql(staging_common.__file__, "macros.sql"),
                     read_sql(intermediate.__file__, "staged_lines.sql"),
                     read_sql(__file__, "warehouse.sql"),
                     read_sql(lifecycle.__file__, "schema.sql"))
# Opening the working database happens several times a run: when this fingerprint of the statements
# (and of the invoice-lines migration below) is the one the file records, they are not run again.
SCHEMA_FINGERPRINT = hashlib.sha256("\n".join([*SCHEMA_STATEMENTS, "pricing-columns-1"]).encode()).hexdigest()


def _schema_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.sql("SELECT fingerprint FROM int_schema").fetchall()
    except duckdb.CatalogException:
        return None
    return rows[0][0] if rows else None


def _create_schema(con: duckdb.DuckDBPyConnection) -> None:
    for statement in SCHEMA_STATEMENTS:
        con.execute(statement)
    _add_pricing_columns(con)
    con.execute("CREATE OR REPLACE TABLE int_schema AS SELECT ? AS fingerprint", [SCHEMA_FINGERPRINT])


def _add_pricing_columns(con: duckdb.DuckDBPyConnection) -> None:
    """A working database from before the pricing models (SPEC §8) gets the invoice lines' new columns."""
    if "kind" in con.sql("SELECT * FROM invoice_lines LIMIT 0").columns:  # duckdb_columns() took 13 ms an open
        return
    con.execute("ALTER TABLE invoice_lines ALTER COLUMN aggregation DROP NOT NULL")
    for column, kind in (("kind", "VARCHAR DEFAULT 'usage'"), ("tier", "INTEGER"),
                         ("price_model", "VARCHAR DEFAULT 'per_unit'"), ("description", "VARCHAR")):
        con.execute(f"ALTER TABLE invoice_lines ADD COLUMN {column} {kind}")


REFERENCE_TABLES = ("customers", "customer_keys", "meters", "prices", "statuses", "issuer", "price_tiers",
                    "commitments")
# The tables of optional files, empty when a Reference has none of them.
EMPTY_REFERENCE = {
    "issuer": pl.DataFrame(schema={"name": pl.String, "address": pl.String, "tax_id": pl.String,
                                   "number_prefix": pl.String, "payment_terms_days": pl.Int32}),
    "price_tiers": pl.DataFrame(schema=reference_pricing.TIER_SCHEMA),
    "commitments": pl.DataFrame(schema=reference_pricing.COMMITMENT_SCHEMA),
}


def write_reference(con: duckdb.DuckDBPyConnection, reference: Reference) -> None:
    """Replace the ``ref_*`` tables and their fingerprint; unchanged data leaves both as they were."""
    fingerprint = reference_fingerprint(reference)
    if fingerprint == current_reference_fingerprint(con):
        return
    with transaction(con):
        for name in REFERENCE_TABLES:
            con.register("reference_frame", _frame(reference, name))
            con.execute(f"CREATE OR REPLACE TABLE ref_{name} AS SELECT * FROM reference_frame")
            con.unregister("reference_frame")
        con.execute("CREATE OR REPLACE TABLE ref_fingerprint AS SELECT ? AS sha256", [fingerprint])


def _frame(reference: Reference, name: str) -> pl.DataFrame:
    frame = getattr(reference, name)
    return EMPTY_REFERENCE[name] if frame is None else frame


def reference_fingerprint(reference: Reference) -> str:
    digest = hashlib.sha256()
    for name in REFERENCE_TABLES:
        frame = _frame(reference, name)
        digest.update(f"{name}\n{frame.schema}\n".encode())
        digest.update(frame.write_csv().encode())
    return digest.hexdigest()


def publish(con: duckdb.DuckDBPyConnection, db: Path, prepared: PublishedCopy | None = None,
            require_checks: bool = False) -> bool:
    """Bring the published warehouse up to date with the working database; False if it already was.

    The gate comes first (``audit.require_passed``): a blocking check that failed, or whose result is
    about other data than the working database holds, raises ``audit.PublicationRefused`` naming it, and
    the file is left as it was. ``require_checks`` (every Dagster publication) also refuses data that
    a blocking check has not run on.

    A first publication, or one after a full rebuild, writes every table to a new file. Otherwise the
    published file is copied (or ``prepared`` is used, a copy started earlier in the run), the changed
    lines of the per-record tables are replaced in the copy, and the small summary tables are copied
    whole. Either way the analyst views and the comments are (re)applied to the new file, which is then
    renamed over the old one.
    """
    try:
        audit.require_passed(con, require_checks)
    except audit.PublicationRefused:
        if prepared is not None:
            prepared.discard()
        raise
    change = pending(con, "publish")
    writes, published = con.sql("SELECT writes, published FROM int_invoice_writes").fetchall()[0]
    lifecycle_writes, lifecycle_published = con.sql("SELECT writes, published FROM lc_writes").fetchall()[0]
    described = description.fingerprint()
    published_description = con.sql("SELECT any_value(sha256) FROM int_published_description").fetchall()[0][0]
    if (db.exists() and change is None and writes == published and lifecycle_writes == lifecycle_published
            and described == published_description):
        if prepared is not None:
            prepared.discard()
        return False
    tmp = _next_file(db)
    try:
        _write_tables(con, db, tmp, change, prepared)
        with duckdb.connect(str(tmp)) as new_file:
            description.describe(new_file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, db)
    with transaction(con):
        if change is not None:
            mark_applied(con, "publish", change)
        con.execute("UPDATE int_invoice_writes SET published = ?", [writes])
        con.execute("UPDATE lc_writes SET published = ?", [lifecycle_writes])
        con.execute("DELETE FROM int_published_description")
        con.execute("INSERT INTO int_published_description VALUES (?)", [described])
    return True


class PublishedCopy:
    """A copy of the published file, made on a thread while the run does other work.

    Copying the file is the largest part of an incremental publication that does not shrink with the
    change; a run that knows it will publish (its invoice step) starts the copy early and publishing
    takes it. The copy is used only if the published file is still the one copied (the same stamp: size,
    mtime, ctime and inode); otherwise publishing copies the file again.
    """

    def __init__(self, db: Path) -> None:
        self.db, self.path = db, _next_file(db)
        self._identity = file_identity(db)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._copy, name="published-copy", daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, db: Path) -> PublishedCopy | None:
        """Start copying ``db``; None when there is no published file yet."""
        return cls(db) if db.exists() else None

    def _copy(self) -> None:
        try:
            shutil.copyfile(self.db, self.path)
        except OSError as error:  # the copy is then not usable, and publishing copies again
            self._error = error

    def usable(self) -> bool:
        """Wait for the copy; whether it holds the published file as the file still is."""
        self._thread.join()
        return self._error is None and file_identity(self.db) == self._identity

    def discard(self) -> None:
        self._thread.join()
        self.path.unlink(missing_ok=True)


def _next_file(db: Path) -> Path:
    """Where the next publication is written before it is renamed over ``db``."""
    return db.with_name(f"{db.name}.tmp-{os.getpid()}")


def remove_leftovers(db: Path) -> list[Path]:
    """Remove what killed runs left beside ``db``: their ``<db>.tmp-<pid>`` files (a publication or a
    copy of the published file that was never renamed) and DuckDB's ``.wal`` beside them. Returns them.

    Call it holding the working database open for writing (``connect_state``). A process writes such a
    file only while it holds the working database (publishing, and the copy the invoice step starts),
    and DuckDB lets one process at a time hold it, so a file of another process is then a leftover. The
    files of this process are kept: its copy may be in use, and its own publication replaces them.
    """
    prefix = f"{db.name}.tmp-"
    removed = []
    for path in db.parent.glob(f"{glob.escape(prefix)}*"):
        pid = path.name[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or not path.is_file():
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return sorted(removed)


def file_identity(path: Path) -> Stamp | None:
    """The file's stamp (``raw.dump_files.file_stamp``): whether it was replaced or written to; None: no file."""
    try:
        return file_stamp(path)
    except FileNotFoundError:
        return None


def _write_tables(con: duckdb.DuckDBPyConnection, db: Path, tmp: Path, change: Pending | None,
                  prepared: PublishedCopy | None) -> None:
    """The five tables in ``tmp``: written whole, or changed in a copy of the published ``db``."""
    full = not db.exists() or (change is not None and change.full)
    reused = prepared is not None and not full and prepared.usable()
    if prepared is not None and not reused:
        prepared.discard()
    if full:
        tmp.unlink(missing_ok=True)
    elif not reused:
        shutil.copyfile(db, tmp)
    con.execute("ATTACH ? AS publishing", [str(tmp)])
    if not full and not _has_quarantine_lines(con):
        # Checked in the copy: the published file itself may be held open for writing elsewhere.
        con.execute("DETACH publishing")
        tmp.unlink()
        full = True
        con.execute("ATTACH ? AS publishing", [str(tmp)])
    try:
        # No transaction spans the writes: the new file is renamed into place only when they all
        # succeeded, and each statement's commit bounds what DuckDB holds in memory.
        if full:
            for table in (*SUMMARY_TABLES, *DOCUMENT_TABLES):
                con.execute(f"CREATE TABLE publishing.{table} AS SELECT * FROM main.{table}")
            con.execute("CREATE TABLE publishing.usage_events AS SELECT * FROM main.usage_events LIMIT 0")
            con.execute(read_sql(__file__, "published_quarantine.sql"))
            for table in RECORD_TABLES:
                _insert_records(con, table, 0)
        else:
            _apply_changes(con, change)
        con.execute("CHECKPOINT publishing")
    finally:
        con.execute("DETACH publishing")


def _has_quarantine_lines(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the copy attached as ``publishing`` keeps the quarantine's raw lines once each
    (``QUARANTINE_TABLES``); a file published before holds ``quarantine`` as one table and is written whole."""
    return con.sql("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'publishing' "
                   "AND list_contains(?, table_name)", params=[list(QUARANTINE_TABLES)]
                   ).fetchall()[0][0] == len(QUARANTINE_TABLES)


def _insert_records(con: duckdb.DuckDBPyConnection, table: str, since: int) -> None:
    """The rows of the record table ``table`` of the lines resolved after change ``since``, into the new
    file, a chunk at a time (``marts.record_chunks``: quarantined raw lines by their bytes)."""
    for rows, params in marts.record_chunks(con, table, since):
        con.execute(f"INSERT INTO publishing.{table} SELECT * FROM {rows}", params)


def _apply_changes(con: duckdb.DuckDBPyConnection, change: Pending | None) -> None:
    if change is not None:
        for table in RECORD_TABLES:
            delete_lines(con, f"publishing.{table}", CHANGED_LINES)
            _insert_records(con, table, change.since)
    for table in (*SUMMARY_TABLES, *DOCUMENT_TABLES):
        # A file published before a table was added to the warehouse gets it now.
        con.execute(f"CREATE TABLE IF NOT EXISTS publishing.{table} AS SELECT * FROM main.{table} LIMIT 0")
        con.execute(f"DELETE FROM publishing.{table}")
        con.execute(f"INSERT INTO publishing.{table} SELECT * FROM main.{table}")
