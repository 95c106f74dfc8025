"""The one resource: where the dumps, the reference data, the warehouse and the invoice documents are."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import PrivateAttr

from dagster_project.defaults import (
    DEFAULT_CONTROL_DIR,
    DEFAULT_DB,
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_RAW_DIR,
    DEFAULT_REFERENCE_DIR,
)

if TYPE_CHECKING:
    from transforms.warehouse import PublishedCopy

LOCK_WAIT_SECONDS = 5.0  # a reader such as `tally status` holds the working database for milliseconds
# The connection kept open to a working database (by absolute path) in this process: by a Dagster run
# for its steps, or by `holding` for several runs and the reads between them.
_HELD: dict[str, Any] = {}


class TallyWarehouse(dg.ConfigurableResource):
    """Paths of one tally installation (the working database sits beside the published warehouse), and
    the memory DuckDB may use before it spills to disk. ``documents_dir`` holds the invoice documents;
    blank means ``invoices/`` beside the warehouse file (``data/invoices`` by default). ``control_dir``
    holds the close files (SPEC §7)."""

    raw_dir: str = DEFAULT_RAW_DIR
    reference_dir: str = DEFAULT_REFERENCE_DIR
    db: str = DEFAULT_DB
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    documents_dir: str = ""
    control_dir: str = DEFAULT_CONTROL_DIR
    # A close file whose inputs alone are loaded (its files, its reference copy): set by the runner while it
    # issues a close file the working database has not issued yet (SPEC §7, reproducible from empty).
    only_close: str = ""
    _keep_open: bool = PrivateAttr(default=False)
    _opened: bool = PrivateAttr(default=False)  # this run opened the connection kept in ``_HELD``, and closes it
    _copy: Any = PrivateAttr(default=None)  # a copy of the published file, started for this run's publication

    @classmethod
    def from_env(cls) -> TallyWarehouse:
        return cls(
            raw_dir=os.environ.get("TALLY_RAW_DIR", DEFAULT_RAW_DIR),
            reference_dir=os.environ.get("TALLY_REFERENCE_DIR", DEFAULT_REFERENCE_DIR),
            db=os.environ.get("TALLY_DB", DEFAULT_DB),
            memory_limit=os.environ.get("TALLY_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
            documents_dir=os.environ.get("TALLY_DOCUMENTS_DIR", ""),
            control_dir=os.environ.get("TALLY_CONTROL_DIR", DEFAULT_CONTROL_DIR),
        )

    def documents_path(self) -> Path:
        """Where the invoice documents go: ``documents_dir``, else ``invoices/`` beside the warehouse."""
        return Path(self.documents_dir) if self.documents_dir else Path(self.db).parent / "invoices"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._keep_open = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._copy is not None:
            self._copy.discard()
            self._copy = None
        if self._opened:
            self.release()
            self._opened = False

    def prepare_publication(self) -> None:
        """This run will publish: start copying the published file, for ``publish`` to take later in the
        same run (and process). Outside a run, or with nothing published yet, this does nothing."""
        from transforms.warehouse import PublishedCopy

        if self._keep_open and self._copy is None:
            self._copy = PublishedCopy.start(Path(self.db))

    def prepared_copy(self) -> PublishedCopy | None:
        """The copy ``prepare_publication`` started, handed over once (None if none was started)."""
        copy, self._copy = self._copy, None
        return copy

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Keep one connection to the working database for everything inside: the jobs that `tally run`
        executes one after another in this process, and its own reads between them, share it (and DuckDB's
        buffer cache and write-ahead log) instead of each opening the file and closing it with a checkpoint.
        ``release`` ends it early (after a failed job, so that what follows opens the file afresh)."""
        key = os.path.abspath(self.db)
        if key in _HELD:
            yield
            return
        _HELD[key] = self._open_state()
        try:
            yield
        finally:
            self.release()

    def release(self) -> None:
        """Close the connection ``holding`` keeps, if any."""
        held = _HELD.pop(os.path.abspath(self.db), None)
        if held is not None:
            held.close()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:  # noqa: F821
        """The working database; a lock another process holds is waited for a few seconds, then raised.

        Inside ``holding`` it is the connection held. Otherwise, in a run it is opened once and kept until
        Dagster tears the resource down at the run's end (once per run with the in-process executor, per
        step process otherwise): the steps then share DuckDB's buffer cache instead of each opening the
        database and reading its tables cold. Outside a run each call opens and closes its own connection.
        """
        key = os.path.abspath(self.db)
        if key not in _HELD and self._keep_open:
            _HELD[key], self._opened = self._open_state(), True
        held = _HELD.get(key)
        if held is not None:
            yield held
            return
        con = self._open_state()
        try:
            yield con
        finally:
            con.close()

    def _open_state(self):
        import duckdb

        from transforms.warehouse import connect_state

        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                return connect_state(Path(self.db), self.memory_limit)
            except duckdb.IOException as error:
                if "Could not set lock" not in str(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
