"""Asset checks: the Pandera contracts of each stage, the conservation of records between layers, and
the invariants an invoice cannot be trusted without. Every check is blocking, and records its result
in the working database (``transforms.audit``): publishing, in whichever job, publishes only what
passed them.

Contracts validate what is new, so their cost follows the run, not the warehouse: raw and staging
check the loads after the one of their last pass (a failed load is read again, and fails again, on
every later run until its cause is gone); priced usage checks every line not yet published (all of it
after a full rebuild), in batches of whole dump lines. A line that failed is still unpublished on the
next run, so it is checked again: a failure is never forgotten.
"""


import dagster as dg

from dagster_project.metadata import table_metadata
from dagster_project.resources import TallyWarehouse
from transforms import audit, changes
from transforms.batches import line_batches
from transforms.prefetch import prefetched
from transforms.raw.dump_files import SOURCES


def _validate(con, schema_name: str, relation: str, params: list | None = None,
              batches=line_batches) -> dg.AssetCheckResult:
    """Validate ``relation`` against a contract, a batch (of whole dump lines, by default) at a time."""
    from transforms import contracts  # Pandera is a heavy import: only runs that validate pay for it

    schema = getattr(contracts, schema_name)
    checked = 0
    # The next batch is read from DuckDB in a thread while Pandera checks this one.
    read = batches(con, relation, contracts.columns(schema), params, rows=contracts.batch_rows(schema))
    with prefetched(read) as frames:
        for frame in frames:
            checked += frame.height
            failures = contracts.failures(schema, frame)
            if failures is not None:
                return dg.AssetCheckResult(passed=False, metadata=table_metadata(failures.head(50), failures.height))
    return dg.AssetCheckResult(passed=True, metadata={"rows_checked": checked})


def _whole(con, relation: str, columns: list[str], params: list | None = None, rows: int | None = None):
    """Small tables, checked in one batch whatever ``rows`` asks for."""
    yield con.sql(f"SELECT * FROM {relation}", params=params).pl()


def _audited(con, check_key: str, result: dg.AssetCheckResult, checked_marker: str) -> dg.AssetCheckResult:
    """Record ``result`` for the publication gate, with the first failing rows of a failure."""
    preview = (result.metadata or {}).get("preview")
    audit.record(con, check_key, result.passed, checked_marker, None if result.passed or preview is None
                 else str(preview.value))
    return result


def _key(asset_key: list[str], name: str) -> str:
    return f"{'/'.join(asset_key)}:{name}"


def new_rows_check(asset_key: list[str], schema_name: str, table: str):
    key = _key(asset_key, "pandera_contract")

    @dg.asset_check(asset=asset_key, name="pandera_contract", blocking=True,
                    description=f"Pandera contract of {'/'.join(asset_key)}, on the loads after its last pass.")
    def _check(warehouse: TallyWarehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            current = audit.marker(con, audit.LOADS)
            since = audit.last_passed(con, key) or "0"
            result = _validate(con, schema_name, f"{table} WHERE load_id > ? AND load_id <= ?",
                               [int(since), int(current)])
            return _audited(con, key, result, current)

    return _check


@dg.asset_check(asset=["intermediate", "priced_usage"], name="pandera_contract", blocking=True,
                description="Pandera contract of intermediate/priced_usage, on every line not yet published.")
def priced_usage_contract(warehouse: TallyWarehouse) -> dg.AssetCheckResult:
    key = "intermediate/priced_usage:pandera_contract"
    with warehouse.connect() as con:
        current = audit.marker(con, audit.CHANGES)
        unpublished = changes.pending(con, "publish")
        if unpublished is None:
            return _audited(con, key, dg.AssetCheckResult(passed=True, metadata={"rows_checked": 0}), current)
        relation, params = changes.rows_since("int_priced_usage", unpublished)
        return _audited(con, key, _validate(con, "PRICED_USAGE", relation, params), current)


def table_contract(asset_key: list[str], schema_name: str, table: str):
    """Invoice tables are small (one row per invoice or invoice line): checked whole."""
    key = _key(asset_key, "pandera_contract")

    @dg.asset_check(asset=asset_key, name="pandera_contract", blocking=True,
                    description=f"Pandera contract of {'/'.join(asset_key)}.")
    def _check(warehouse: TallyWarehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            current = audit.marker(con, audit.CHECKS[key])
            return _audited(con, key, _validate(con, schema_name, table, batches=_whole), current)

    return _check


def sql_check(asset_key: list[str], name: str, description: str):
    """Passes when the invariant's query (``transforms.audit.VIOLATIONS``) returns no rows; the rows it
    returns are shown."""
    key = _key(asset_key, name)

    @dg.asset_check(asset=asset_key, name=name, blocking=True, description=description)
    def _check(warehouse: TallyWarehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            current = audit.marker(con, audit.CHECKS[key])
            violations = audit.violations(con, name)
            result = dg.AssetCheckResult(passed=violations.is_empty(), metadata=table_metadata(violations))
            return _audited(con, key, result, current)

    return _check


@dg.asset_check(asset=["intermediate", "priced_usage"], name="raw_lines_are_staged", blocking=True,
                description="Every raw line has staged rows and every staged row its raw line, on the loads "
                            "after the check's last pass.")
def raw_lines_are_staged(warehouse: TallyWarehouse) -> dg.AssetCheckResult:
    key = "intermediate/priced_usage:raw_lines_are_staged"
    with warehouse.connect() as con:
        current = audit.marker(con, audit.LOADS)
        since = audit.last_passed(con, key) or "0"
        violations = audit.violations(con, "raw_lines_are_staged", [int(since), int(current)])
        result = dg.AssetCheckResult(passed=violations.is_empty(), metadata=table_metadata(violations))
        return _audited(con, key, result, current)


checks = [
    *(new_rows_check(["raw", s], "RAW_LINES", f"raw_{s}") for s in SOURCES),
    *(new_rows_check(["staging", s], "STAGED_LINES", f"stg_{s}") for s in SOURCES),
    priced_usage_contract,
    raw_lines_are_staged,
    table_contract(["marts", "invoice_lines"], "INVOICE_LINES", "invoice_lines"),
    table_contract(["marts", "invoices"], "INVOICES", "invoices"),
    sql_check(["intermediate", "priced_usage"], "every_record_one_outcome",
              "Per source, every staged usage line is priced exactly once (the contract checks one outcome per "
              "record)."),
    sql_check(["marts", "reconciliation"], "records_equal_outcomes",
              "records equals the sum of the outcome columns, for every source."),
    sql_check(["marts", "reconciliation"], "records_are_reconciled",
              "Per source, the reconciliation's records are the distinct records of the priced usage."),
    sql_check(["marts", "invoices"], "total_is_sum_of_lines",
              "Every invoice total equals the sum of its line amounts; every line belongs to an invoice."),
    sql_check(["marts", "invoices"], "billed_usage_is_invoiced",
              "Every billed usage line is on an invoice line of its customer, month, metric and unit price."),
    sql_check(["lifecycle", "documents"], "issued_plus_pending_is_recomputed",
              "For every closed month, customer and line: everything issued for it plus its pending adjustment "
              "equals the month recomputed, to the cent."),
]

# The publication gate knows every blocking check by key: the two lists are one.
if {_key(list(spec.asset_key.path), spec.name) for c in checks for spec in c.check_specs} != set(audit.CHECKS):
    raise RuntimeError("dagster_project.checks and transforms.audit.CHECKS name different checks")
