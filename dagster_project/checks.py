"""Asset checks: the Pandera contracts of each stage, and the invariants an invoice cannot be trusted without.

Blocking checks stop everything downstream, above all the publish step, so a broken run never
replaces the warehouse analysts read.
"""


import dagster as dg
import pandera.polars as pa
import polars as pl

from dagster_project.metadata import table_metadata
from dagster_project.resources import TallyWarehouse
from transforms import contracts
from transforms.raw.dump_files import SOURCES


def _result(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> dg.AssetCheckResult:
    failures = contracts.failures(schema, frame)
    if failures is None:
        return dg.AssetCheckResult(passed=True, metadata={"rows_checked": frame.height})
    return dg.AssetCheckResult(passed=False, metadata=table_metadata(failures.head(50), failures.height))


def contract_check(asset_key: list[str], schema: pa.DataFrameSchema, query: str, blocking: bool = False):
    @dg.asset_check(asset=asset_key, name="pandera_contract", blocking=blocking,
                    description=f"Pandera contract of {'/'.join(asset_key)}.")
    def _check(warehouse: TallyWarehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            return _result(schema, con.sql(query).pl())

    return _check


def sql_check(asset_key: list[str], name: str, description: str, violations_query: str):
    """Passes when ``violations_query`` returns no rows; the rows it returns are shown."""

    @dg.asset_check(asset=asset_key, name=name, blocking=True, description=description)
    def _check(warehouse: TallyWarehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            violations = con.sql(violations_query).pl()
        return dg.AssetCheckResult(passed=violations.is_empty(), metadata=table_metadata(violations))

    return _check


LATEST_LOAD = "WHERE load_id = (SELECT max(load_id) FROM {table})"

checks = [
    *(contract_check(["raw", s], contracts.RAW_LINES,
                     f"SELECT * FROM raw_{s} " + LATEST_LOAD.format(table=f"raw_{s}")) for s in SOURCES),
    *(contract_check(["staging", s], contracts.STAGED_LINES,
                     f"SELECT * FROM stg_{s} " + LATEST_LOAD.format(table=f"stg_{s}")) for s in SOURCES),
    contract_check(["intermediate", "priced_usage"], contracts.PRICED_USAGE,
                   "SELECT * FROM int_priced_usage", blocking=True),
    contract_check(["marts", "invoice_lines"], contracts.INVOICE_LINES, "SELECT * FROM invoice_lines", blocking=True),
    contract_check(["marts", "invoices"], contracts.INVOICES, "SELECT * FROM invoices", blocking=True),
    sql_check(
        ["intermediate", "priced_usage"], "every_record_one_outcome",
        "Every staged record appears exactly once, with exactly one outcome.",
        """SELECT s.source, s.source_file, s.line_number, s.record_index, count(DISTINCT p.outcome) AS outcomes
           FROM (SELECT DISTINCT source, source_file, line_number, record_index FROM staged_lines) s
           LEFT JOIN int_priced_usage p USING (source, source_file, line_number, record_index)
           GROUP BY ALL HAVING count(DISTINCT p.outcome) <> 1""",
    ),
    sql_check(
        ["marts", "reconciliation"], "records_equal_outcomes",
        "records equals the sum of the outcome columns, for every source.",
        """SELECT * FROM reconciliation WHERE records <> billed + duplicate + superseded + voided
           + rejected_by_vendor + unmetered + quarantined""",
    ),
    sql_check(
        ["marts", "invoices"], "total_is_sum_of_lines",
        "Every invoice total equals the sum of its line amounts; every line belongs to an invoice.",
        """SELECT i.invoice_id, i.total, sum(l.amount) AS lines_sum, count(l.invoice_id) AS lines
           FROM invoices i FULL JOIN invoice_lines l USING (invoice_id)
           GROUP BY ALL HAVING i.total IS DISTINCT FROM sum(l.amount) OR count(l.invoice_id) <> any_value(i.line_count)""",
    ),
    sql_check(
        ["marts", "invoices"], "billed_usage_is_invoiced",
        "Every billed usage line is on an invoice line of its customer, month, metric and unit price.",
        """SELECT u.customer_id, u.period_start, u.metric_id, u.unit_price, count(*) AS billed_lines
           FROM int_priced_usage u
           LEFT JOIN invoice_lines l USING (customer_id, period_start, metric_id, unit_price)
           WHERE u.outcome = 'billed' AND u.period_start IN (SELECT DISTINCT period_start FROM invoices)
             AND l.invoice_id IS NULL
           GROUP BY ALL""",
    ),
]
