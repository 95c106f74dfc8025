"""Which files tally may replace: the published warehouse it owns, and a working database it can rebuild.

SPEC §6: ``--db`` names a file that tally owns, and a run refuses to replace one that is not a tally
warehouse. A publication renames a new file over ``--db``, so the check runs before anything does
(``tally run`` and the publish asset both call ``check_published``), and a refusal leaves the file byte for
byte as it was.

What counts as ours:

- no file at all (a first publication);
- a DuckDB database that holds tally's published tables (``PUBLISHED_TABLES``), the same test that
  ``tally explain`` and ``tally invoice`` make; no other marker is written, so warehouses published
  before this check are recognised too;
- a file that cannot be read (damaged, truncated, overwritten) but is *the very file tally published
  last*: the working database remembers the device and inode of the file each publication renamed into
  place (``remember_published``). Tally never writes that file in place, so the same inode with
  unreadable content is damage to our own file, not a replacement. It is moved aside to
  ``<db>.corrupt-<n>`` and the run publishes every table again (never "up to date").

Anything else (another DuckDB database, a text file, a folder, or an unreadable file tally cannot tie to
its last publication) is refused: exit 2 with the way out, moving the file away or pointing ``--db``
elsewhere.

The working database (``<db stem>.state.duckdb``) is derived state: everything in it is rebuilt from the
dumps and the reference data. One DuckDB cannot open is moved aside to ``<name>.corrupt-<n>`` (with its
write-ahead log) and the run rebuilds it from scratch, saying so (``recover_state``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from transforms.warehouse import PUBLISHED_TABLES, missing_published_tables, state_path

_PUBLISHED_FILE = "CREATE TABLE IF NOT EXISTS int_published_file (device UBIGINT NOT NULL, inode UBIGINT NOT NULL)"


class NotOurs(Exception):
    """``--db`` names a file tally does not own; ``problem`` says what it is, ``next_step`` the way out."""

    def __init__(self, problem: str, next_step: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.next_step = next_step


@dataclass(frozen=True)
class Published:
    """What is at ``--db``: ``absent``, ``ours`` (a readable tally warehouse), ``damaged`` (tally's own
    last publication, unreadable now) or ``foreign`` (``problem`` says why)."""

    kind: str
    problem: str = ""
    detail: str = ""  # why it cannot be read as a tally warehouse


def inspect_published(db: Path, remembered: tuple[int, int] | None) -> Published:
    """Classify the file at ``db``; ``remembered`` is the (device, inode) of tally's last publication."""
    if not db.exists() and not db.is_symlink():
        return Published("absent")
    if not db.is_file():
        return Published("foreign", f"{db} is not a file" + (" but a folder" if db.is_dir() else ""))
    unreadable = _missing_tables(db)
    if unreadable is None:
        return Published("ours")
    status = db.stat()
    if remembered is not None and (status.st_dev, status.st_ino) == tuple(remembered):
        return Published("damaged", f"{db}, the warehouse tally published last, cannot be read ({unreadable})",
                         unreadable)
    return Published("foreign", f"{db} is not a tally warehouse ({unreadable})", unreadable)


def _missing_tables(db: Path) -> str | None:
    """Why ``db`` is not a readable tally warehouse, or None when it is one."""
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            missing = missing_published_tables(con)
            truncated = _truncated(con, db)
    except duckdb.Error as error:
        if "lock" in str(error).lower():  # open for writing elsewhere: a DuckDB database, not checkable now;
            return None  # treated as before this check (the rename never waited for a reader or a writer)
        return error_text(error)
    if truncated:
        return truncated
    if missing:
        return ("a DuckDB database without tally's tables " if len(missing) == len(PUBLISHED_TABLES)
                else "a DuckDB database without ") + ", ".join(missing)
    return None


def check_published(db: Path, remembered: tuple[int, int] | None) -> Path | None:
    """Refuse (``NotOurs``) a ``db`` tally may not replace. Tally's own damaged file is moved aside, so the
    run publishes every table again; the path it was moved to is returned (None when nothing was moved)."""
    found = inspect_published(db, remembered)
    if found.kind == "foreign":
        raise NotOurs(found.problem, f"tally replaces only a warehouse it published. Point --db (or TALLY_DB) at "
                                     f"another path, or move {db} away if it is a damaged warehouse that tally "
                                     "should publish again from its working database; nothing was run.")
    if found.kind == "damaged":
        return move_aside(db)
    return None


def remembered_published(db: Path) -> tuple[int, int] | None:
    """The (device, inode) of tally's last publication, read from the working database; None when it cannot
    be read (absent, locked by a run, damaged) or has none."""
    path = state_path(db)
    if not path.is_file():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            if not con.sql("SELECT 1 FROM duckdb_tables() WHERE table_name = 'int_published_file'").fetchall():
                return None
            rows = con.sql("SELECT device, inode FROM int_published_file").fetchall()
    except duckdb.Error:
        return None
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def remembered_in(con: duckdb.DuckDBPyConnection) -> tuple[int, int] | None:
    """``remembered_published`` through the run's open connection to the working database."""
    con.execute(_PUBLISHED_FILE)
    rows = con.sql("SELECT device, inode FROM int_published_file").fetchall()
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def remember_published(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    """Record the identity of the file now at ``db``, which a publication has just renamed into place."""
    status = db.stat()
    con.execute(_PUBLISHED_FILE)
    con.execute("DELETE FROM int_published_file")
    con.execute("INSERT INTO int_published_file VALUES (?, ?)", [status.st_dev, status.st_ino])


def state_problem(db: Path) -> str | None:
    """Why the working database beside ``db`` cannot be used, or None (absent, fine, or locked by a run:
    a lock is not damage, and the run reports it). It is opened for writing, as a run opens it, so a
    write-ahead log left by a killed run is replayed, not mistaken for damage."""
    path = state_path(db)
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path)) as con:
            con.sql("SELECT count(*) FROM duckdb_tables()").fetchall()
            con.sql("SELECT count(*) FROM duckdb_columns()").fetchall()
            truncated = _truncated(con, path)
    except duckdb.Error as error:
        if "lock" in str(error).lower():
            return None
        return error_text(error)
    return truncated


def _truncated(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """Whether the file is shorter than the blocks its header counts (DuckDB opens a truncated file and
    its catalog, and fails only when a query reaches a missing block). Not judged while a write-ahead log
    is beside it: the blocks it adds are not in the file until the next checkpoint."""
    if path.with_name(path.name + ".wal").exists():
        return None
    block_size, blocks = con.sql("SELECT block_size, used_blocks FROM pragma_database_size() "
                                 "WHERE database_name = current_database()").fetchall()[0]
    # Free blocks at the end of the file need not be there (DuckDB can leave the file short of them after a
    # rolled-back write); the blocks in use must be.
    expected = block_size * blocks
    size = path.stat().st_size
    if size < expected:
        return f"the file is truncated: {size} bytes, its {blocks} blocks in use need at least {expected}"
    return None


def recover_state(db: Path) -> tuple[str, Path] | None:
    """Move a working database DuckDB cannot open aside (it is rebuilt from the dumps and reference
    data); (why, where it went), or None when it was usable."""
    problem = state_problem(db)
    if problem is None:
        return None
    path = state_path(db)
    moved = move_aside(path)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        os.replace(wal, moved.with_name(moved.name + ".wal"))
    return problem, moved


def move_aside(path: Path) -> Path:
    """Rename ``path`` to ``<name>.corrupt-<n>``, the first ``n`` not taken; kept for inspection."""
    n = 1
    while (target := path.with_name(f"{path.name}.corrupt-{n}")).exists():
        n += 1
    os.replace(path, target)
    return target


def error_text(error: Exception) -> str:
    """DuckDB's message, first line, without its class prefix."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    for prefix in ("IO Error: ", "Serialization Error: ", "Catalog Error: "):
        text = text.removeprefix(prefix)
    return text
