"""The whole transform chain in one call, without Dagster: for tests, benchmarks and scripts.

It calls the same functions, in the same order, as the Dagster assets do.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from transforms import intermediate, marts
from transforms.raw.dump_files import discover_dump_files
from transforms.raw.load import LoadReport, load_dump_files
from transforms.reference import Reference
from transforms.staging import MODELS, stage_new_lines
from transforms.warehouse import replace_periods, write_reference


def run_all(con: duckdb.DuckDBPyConnection, raw_dir: Path, reference: Reference) -> LoadReport:
    report = load_dump_files(con, discover_dump_files(raw_dir))
    for model in MODELS.values():
        stage_new_lines(con, model)
    write_reference(con, reference)
    intermediate.resolve_events(con)
    intermediate.meter_lines(con)
    intermediate.price_usage(con)
    for table in marts.TABLE_MODELS:
        marts.build_table(con, table)
    periods = billing_periods(con)
    if periods:
        lines, invoices = marts.invoices_for(con, periods)
        replace_periods(con, "invoice_lines", periods, lines)
        replace_periods(con, "invoices", periods, invoices)
    return report


def billing_periods(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Months with billed usage, and months that had invoices (which may have to be emptied)."""
    return [row[0] for row in con.sql(
        "SELECT period_start FROM int_priced_usage WHERE outcome = 'billed' "
        "UNION SELECT period_start FROM invoices ORDER BY 1").fetchall()]
