"""The one resource: where the dumps, the reference data and the warehouse are."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

DEFAULT_RAW_DIR = "data/raw"
DEFAULT_REFERENCE_DIR = "data/reference"
DEFAULT_DB = "data/warehouse.duckdb"


class TallyWarehouse(dg.ConfigurableResource):
    """Paths of one tally installation. The working database sits beside the published warehouse."""

    raw_dir: str = DEFAULT_RAW_DIR
    reference_dir: str = DEFAULT_REFERENCE_DIR
    db: str = DEFAULT_DB

    @classmethod
    def from_env(cls) -> "TallyWarehouse":
        return cls(
            raw_dir=os.environ.get("TALLY_RAW_DIR", DEFAULT_RAW_DIR),
            reference_dir=os.environ.get("TALLY_REFERENCE_DIR", DEFAULT_REFERENCE_DIR),
            db=os.environ.get("TALLY_DB", DEFAULT_DB),
        )

    @contextmanager
    def connect(self) -> Iterator["duckdb.DuckDBPyConnection"]:  # noqa: F821
        from transforms.warehouse import connect_state

        con = connect_state(Path(self.db))
        try:
            yield con
        finally:
            con.close()
