"""Asset checks: the Pandera contracts of each stage, the conservation of records between layers, and
the invariants an invoice cannot be trusted without. Every check is blocking, and records its result
in the working database (``transforms.audit``): publishing, in whichever job, publishes only what
passed them.

Contracts validate what is new, so their cost follows the run, not the warehouse: raw and staging
check the loads after the one of their last pass (a failed load is read again, and fails again, on
every later run until its cause is gone); priced usage checks every line not yet published (all of it
after a full rebuild), in batches of whole dump lines. A line that failed is still unpublished on the
next run, so it is checked again: a failure is never forgotten.

The checks of the assets one step writes run together in one step (``STEPS``), each still a check of
its own with its own result.
"""


from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg
import duckdb

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


@dataclass(frozen=True)
class Check:
    """One blocking check: its asset, name and description, and what it measures on the working database
    (``measure(con, key, current)``, ``current`` the marker of the data in its scope, ``audit.CHECKS``)."""

    asset: list[str]
    name: str
    description: str
    measure: Callable[[duckdb.DuckDBPyConnection, str, str], dg.AssetCheckResult]

    @property
    def key(self) -> str:
        return _key(self.asset, self.name)

    def evaluate(self, con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
        """Measure the check on the data its scope holds now, and record the result (``_audited``)."""
        current = audit.marker(con, audit.CHECKS[self.key])
        return _audited(con, self.key, self.measure(con, self.key, current), current)

    def run(self, warehouse: TallyWarehouse) -> dg.AssetCheckResult:
        """Evaluate the check on its own connection, as its step does."""
        with warehouse.connect() as con:
            return self.evaluate(con)


def _new_loads(con: duckdb.DuckDBPyConnection, key: str, current: str) -> list[int]:
    """The loads a check of new loads reads: after the one of its last pass, up to ``current``."""
    return [int(audit.last_passed(con, key) or "0"), int(current)]


def new_rows_contract(asset_key: list[str], schema_name: str, table: str) -> Check:
    def measure(con, key: str, current: str) -> dg.AssetCheckResult:
        return _validate(con, schema_name, f"{table} WHERE load_id > ? AND load_id <= ?", _new_loads(con, key, current))

    return Check(asset_key, "pandera_contract",
                 f"Pandera contract of {'/'.join(asset_key)}, on the loads after its last pass.", measure)


def _priced_usage_contract(con, key: str, current: str) -> dg.AssetCheckResult:
    unpublished = changes.pending(con, "publish")
    if unpublished is None:
        return dg.AssetCheckResult(passed=True, metadata={"rows_checked": 0})
    relation, params = changes.rows_since("int_priced_usage", unpublished)
    return _validate(con, "PRICED_USAGE", relation, params)


def table_contract(asset_key: list[str], schema_name: str, table: str) -> Check:
    """Invoice tables are small (one row per invoice or invoice line): checked whole."""
    return Check(asset_key, "pandera_contract", f"Pandera contract of {'/'.join(asset_key)}.",
                 lambda con, key, current: _validate(con, schema_name, table, batches=_whole))


def sql_check(asset_key: list[str], name: str, description: str, new_loads: bool = False) -> Check:
    """Passes when the invariant's query (``transforms.audit.VIOLATIONS``) returns no rows; the rows it
    returns are shown. With ``new_loads``, the query reads the loads after the check's last pass."""
    def measure(con, key: str, current: str) -> dg.AssetCheckResult:
        violations = audit.violations(con, name, _new_loads(con, key, current) if new_loads else None)
        return dg.AssetCheckResult(passed=violations.is_empty(), metadata=table_metadata(violations))

    return Check(asset_key, name, description, measure)


def check_step(name: str, members: list[Check]) -> dg.AssetChecksDefinition:
    """The checks of the assets one step writes, evaluated in one step of their own.

    A step costs a Dagster run tens of milliseconds whatever it does (its events are written to the
    instance one by one), and a run with nothing new is mostly such costs. Each check is still its own
    blocking check, with its own result; the UI can run any of them alone (``can_subset``)."""

    @dg.multi_asset_check(
        name=name, can_subset=True,
        specs=[dg.AssetCheckSpec(c.name, asset=c.asset, blocking=True, description=c.description) for c in members],
    )
    def _step(context: dg.AssetCheckExecutionContext, warehouse: TallyWarehouse) -> Iterator[dg.AssetCheckResult]:
        selected = context.selected_asset_check_keys
        with warehouse.connect() as con:
            for check in members:
                check_key = dg.AssetCheckKey(dg.AssetKey(check.asset), check.name)
                if check_key in selected:
                    result = check.evaluate(con)
                    yield dg.AssetCheckResult(asset_key=check_key.asset_key, check_name=check.name,
                                              passed=result.passed, metadata=result.metadata)

    return _step


STEPS: dict[str, list[Check]] = {
    "raw_contracts": [new_rows_contract(["raw", s], "RAW_LINES", f"raw_{s}") for s in SOURCES],
    "staging_contracts": [new_rows_contract(["staging", s], "STAGED_LINES", f"stg_{s}") for s in SOURCES],
    "priced_usage_checks": [
        Check(["intermediate", "priced_usage"], "pandera_contract",
              "Pandera contract of intermediate/priced_usage, on every line not yet published.",
              _priced_usage_contract),
        sql_check(["intermediate", "priced_usage"], "raw_lines_are_staged",
                  "Every raw line has staged rows and every staged row its raw line, on the loads after the "
                  "check's last pass.", new_loads=True),
        sql_check(["intermediate", "priced_usage"], "every_record_one_outcome",
                  "Per source, every staged usage line is priced exactly once (the contract checks one outcome "
                  "per record)."),
    ],
    "reconciliation_checks": [
        sql_check(["marts", "reconciliation"], "records_equal_outcomes",
                  "records equals the sum of the outcome columns, for every source."),
        sql_check(["marts", "reconciliation"], "records_are_reconciled",
                  "Per source, the reconciliation's records are the distinct records of the priced usage."),
    ],
    "invoice_checks": [
        table_contract(["marts", "invoice_lines"], "INVOICE_LINES", "invoice_lines"),
        table_contract(["marts", "invoices"], "INVOICES", "invoices"),
        sql_check(["marts", "invoices"], "total_is_sum_of_lines",
                  "Every invoice total equals the sum of its line amounts; every line belongs to an invoice."),
        sql_check(["marts", "invoices"], "billed_usage_is_invoiced",
                  "Every billed usage line is on an invoice line of its customer, month, metric and unit price."),
    ],
    "document_checks": [
        sql_check(["lifecycle", "documents"], "issued_plus_pending_is_recomputed",
                  "For every closed month, customer and line: everything issued for it plus its pending "
                  "adjustment equals the month recomputed, to the cent."),
    ],
}
BY_KEY: dict[str, Check] = {check.key: check for members in STEPS.values() for check in members}
checks = [check_step(name, members) for name, members in STEPS.items()]

# The publication gate knows every blocking check by key: the two lists are one.
if set(BY_KEY) != set(audit.CHECKS):
    raise RuntimeError("dagster_project.checks and transforms.audit.CHECKS name different checks")
