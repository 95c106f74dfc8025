"""The whole transform chain in one call, without Dagster: for tests, benchmarks and scripts.

It calls the same functions, in the same order, as the Dagster assets do.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from transforms import intermediate, marts
from transforms.raw.load import LoadReport, load_raw_dir
from transforms.reference import Reference
from transforms.staging import MODELS, stage_new_lines
from transforms.warehouse import write_reference


def run_all(con: duckdb.DuckDBPyConnection, raw_dir: Path, reference: Reference) -> LoadReport:
    report = load_raw_dir(con, raw_dir)
    for model in MODELS.values():
        stage_new_lines(con, model)
    write_reference(con, reference)
    intermediate.resolve_events(con)
    intermediate.meter_lines(con)
    intermediate.price_usage(con)
    for view in marts.VIEW_MODELS:
        marts.define_view(con, view)
    periods = marts.stale_periods(con)
    if periods:
        marts.rebuild_invoices(con, periods)
    return report
