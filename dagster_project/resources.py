"""The one resource: where the dumps, the reference data, the warehouse and the invoice documents are."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from transforms.memory import DEFAULT_MEMORY_LIMIT

DEFAULT_RAW_DIR = "data/raw"
DEFAULT_REFERENCE_DIR = "data/reference"
DEFAULT_DB = "data/warehouse.duckdb"
LOCK_WAIT_SECONDS = 5.0  # a reader such as `tally status` holds the working database for milliseconds


class TallyWarehouse(dg.ConfigurableResource):
    """Paths of one tally installation (the working database sits beside the published warehouse), and
    the memory DuckDB may use before it spills to disk. ``documents_dir`` holds the invoice documents;
    blank means ``invoices/`` beside the warehouse file (``data/invoices`` by default)."""

    raw_dir: str = DEFAULT_RAW_DIR
    reference_dir: str = DEFAULT_REFERENCE_DIR
    db: str = DEFAULT_DB
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    documents_dir: str = ""

    @classmethod
    def from_env(cls) -> TallyWarehouse:
        return cls(
            raw_dir=os.environ.get("TALLY_RAW_DIR", DEFAULT_RAW_DIR),
            reference_dir=os.environ.get("TALLY_REFERENCE_DIR", DEFAULT_REFERENCE_DIR),
            db=os.environ.get("TALLY_DB", DEFAULT_DB),
            memory_limit=os.environ.get("TALLY_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
            documents_dir=os.environ.get("TALLY_DOCUMENTS_DIR", ""),
        )

    def documents_path(self) -> Path:
        """Where the invoice documents go: ``documents_dir``, else ``invoices/`` beside the warehouse."""
        return Path(self.documents_dir) if self.documents_dir else Path(self.db).parent / "invoices"

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:  # noqa: F821
        """The working database; a lock another process holds is waited for a few seconds, then raised."""
        import duckdb

        from transforms.warehouse import connect_state

        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                con = connect_state(Path(self.db), self.memory_limit)
                break
            except duckdb.IOException as error:
                if "Could not set lock" not in str(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
        try:
            yield con
        finally:
            con.close()
