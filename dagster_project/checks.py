"""Asset checks: the Pandera contracts of each stage, and the invariants an invoice cannot be trusted without.

Contracts validate what is new, so their cost follows the run, not the warehouse: raw and staging
check the load this run wrote; priced usage checks every line not yet published (all of it after a
full rebuild), in batches of whole dump lines. A line that failed is still unpublished on the next run,
so it is checked again: a failure is never forgotten. Blocking checks stop everything downstream,
above all the publish step, so a broken run never replaces the warehouse analysts read.
"""


import dagster as dg

from dagster_project.metadata import LOAD_ID_KEY, STAGED_AFTER_KEY, table_metadata
from dagster_project.resources import TallyWarehouse
from transforms import changes
from transforms.batches import line_batches
from transforms.raw.dump_files import SOURCES


def _validate(con, schema_name: str, relation: str, params: list | None = None,
              batches=line_batches) -> dg.AssetCheckResult:
    """Validate ``relation`` against a contract, a batch (of whole dump lines, by default) at a time."""
    from transforms import contracts  # Pandera is a heavy import: only runs that validate pay for it

    schema = getattr(contracts, schema_name)
    checked = 0
    for frame in batches(con, relation, contracts.columns(schema), params, rows=contracts.batch_rows(schema)):
        checked += frame.height
        failures = contracts.failures(schema, frame)
        if failures is not None:
            return dg.AssetCheckResult(passed=False, metadata=table_metadata(failures.head(50), failures.height))
    return dg.AssetCheckResult(passed=True, metadata={"rows_checked": checked})


def _whole(con, relation: str, columns: list[str], params: list | None = None, rows: int | None = None):
    """Small tables, checked in one batch whatever ``rows`` asks for."""
    yield con.sql(f"SELECT * FROM {relation}", params=params).pl()


def _written_this_run(context: dg.AssetCheckExecutionContext, asset_key: list[str], key: str):
    """A metadata value of the asset's materialization in this run, or None."""
    event = context.instance.get_latest_materialization_event(dg.AssetKey(asset_key))
    if event is None or event.run_id != context.run.run_id or key not in event.asset_materialization.metadata:
        return None
    return event.asset_materialization.metadata[key].value


def new_rows_check(asset_key: list[str], schema_name: str, table: str, metadata_key: str, condition: str):
    @dg.asset_check(asset=asset_key, name="pandera_contract",
                    description=f"Pandera contract of {'/'.join(asset_key)}, on the rows this run wrote.")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: TallyWarehouse) -> dg.AssetCheckResult:
        written = _written_this_run(context, asset_key, metadata_key)
        if written is None:
            return dg.AssetCheckResult(passed=True, metadata={"rows_checked": 0})
        with warehouse.connect() as con:
            return _validate(con, schema_name, f"{table} WHERE {condition}", [written])

    return _check


@dg.asset_check(asset=["intermediate", "priced_usage"], name="pandera_contract", blocking=True,
                description="Pandera contract of intermediate/priced_usage, on every line not yet published.")
def priced_usage_contract(warehouse: TallyWarehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        unpublished = changes.pending(con, "publish")
        if unpublished is None:
            return dg.AssetCheckResult(passed=True, metadata={"rows_checked": 0})
        relation, params = changes.rows_since("int_priced_usage", unpublished)
        return _validate(con, "PRICED_USAGE", relation, params)


def table_contract(asset_key: list[str], schema_name: str, table: str):
    """Invoice tables are small (one row per invoice or invoice line): checked whole."""

    @dg.asset_check(asset=asset_key, name="pandera_contract", blocking=True,
                    description=f"Pandera contract of {'/'.join(asset_key)}.")
    def _check(warehouse: TallyWarehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            return _validate(con, schema_name, table, batches=_whole)

    return _check


def sql_check(asset_key: list[str], name: str, description: str, violations_query: str):
    """Passes when ``violations_query`` returns no rows; the rows it returns are shown."""

    @dg.asset_check(asset=asset_key, name=name, blocking=True, description=description)
    def _check(warehouse: TallyWarehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            violations = con.sql(violations_query).pl()
        return dg.AssetCheckResult(passed=violations.is_empty(), metadata=table_metadata(violations))

    return _check


checks = [
    *(new_rows_check(["raw", s], "RAW_LINES", f"raw_{s}", LOAD_ID_KEY, "load_id = ?") for s in SOURCES),
    *(new_rows_check(["staging", s], "STAGED_LINES", f"stg_{s}", STAGED_AFTER_KEY, "load_id > ?") for s in SOURCES),
    priced_usage_contract,
    table_contract(["marts", "invoice_lines"], "INVOICE_LINES", "invoice_lines"),
    table_contract(["marts", "invoices"], "INVOICES", "invoices"),
    sql_check(
        ["intermediate", "priced_usage"], "every_record_one_outcome",
        "Every staged usage line is priced exactly once (the contract checks one outcome per record).",
        """SELECT staged, priced FROM (SELECT (SELECT count(*) FROM staged_lines) AS staged,
                                              (SELECT count(*) FROM int_priced_usage) AS priced)
           WHERE staged <> priced""",
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
