"""The audit and the publication gate: publishing takes only what passed the blocking checks.

Every blocking check (Dagster asset check) records its latest result in the working database
(``int_check_results``), with a *marker* of the data it read. Each check belongs to a scope, and a
scope's marker changes whenever the data its checks read change:

- ``loads``: the newest load (raw and staging contracts, raw-to-staging conservation). These checks
  are incremental: they read the loads after the one of their last pass, so a failure is read again,
  and fails again, on every later run until its cause is gone;
- ``changes``: the newest load and the newest change of the priced usage (priced-usage contract,
  conservation between staged lines, priced usage and the reconciliation);
- ``invoices``: the number of invoice rewrites (invoice contracts and invariants);
- ``documents``: the number of rewrites of the lifecycle tables (issued documents, drafts, adjustments).

``refusal`` is the gate: publishing stops when a recorded result failed, or was taken on other data
than the working database now holds; with ``require_all`` (every Dagster publication) a check
that has never run on data that exist stops it too. A rerun therefore cannot forget a failure: the
result stays failed until the check runs again and passes.

Invoice months rewritten since the invoice checks last all passed stay in ``int_unchecked_periods``,
which ``unchecked_periods`` adds to the months to invoice once checks are in use: whatever launched
the failed run (``tally run``, a schedule, the UI), the next invoice run rebuilds and checks them again.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from transforms.raw.dump_files import SOURCES
from transforms.sql_files import read_sql

LOADS, CHANGES, INVOICES, DOCUMENTS = "loads", "changes", "invoices", "documents"
EMPTY = {LOADS: "0", CHANGES: "0:0", INVOICES: "0", DOCUMENTS: "0"}  # nothing written yet: nothing to check

# Every blocking check, '<asset key>:<check name>', and its scope. dagster_project/checks.py defines
# exactly these (a test holds the two together).
CHECKS: dict[str, str] = {
    **{f"raw/{s}:pandera_contract": LOADS for s in SOURCES},
    **{f"staging/{s}:pandera_contract": LOADS for s in SOURCES},
    "intermediate/priced_usage:raw_lines_are_staged": LOADS,
    "intermediate/priced_usage:pandera_contract": CHANGES,
    "intermediate/priced_usage:every_record_one_outcome": CHANGES,
    "marts/reconciliation:records_equal_outcomes": CHANGES,
    "marts/reconciliation:records_are_reconciled": CHANGES,
    "marts/invoice_lines:pandera_contract": INVOICES,
    "marts/invoices:pandera_contract": INVOICES,
    "marts/invoices:total_is_sum_of_lines": INVOICES,
    "marts/invoices:billed_usage_is_invoiced": INVOICES,
    "lifecycle/documents:issued_plus_pending_is_recomputed": DOCUMENTS,
}

# The SQL invariants: a check passes when its query returns no rows; the rows it returns are shown.
VIOLATIONS = {
    "every_record_one_outcome": "staged_lines_are_priced.sql",
    "records_equal_outcomes": "records_equal_outcomes.sql",
    "records_are_reconciled": "records_are_reconciled.sql",
    "total_is_sum_of_lines": "total_is_sum_of_lines.sql",
    "billed_usage_is_invoiced": "billed_usage_is_invoiced.sql",
    "raw_lines_are_staged": "raw_lines_are_staged.sql",
    "issued_plus_pending_is_recomputed": "issued_plus_pending_is_recomputed.sql",
}
DETAIL_CHARS = 2000


class PublicationRefused(Exception):
    """Publishing would publish something that did not pass its blocking checks."""


SCHEMA_SQL = read_sql(__file__, "schema.sql")


def markers(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The current marker of every scope."""
    row = con.sql(read_sql(__file__, "markers.sql")).fetchall()[0]
    return dict(zip((LOADS, CHANGES, INVOICES, DOCUMENTS), row, strict=True))


def marker(con: duckdb.DuckDBPyConnection, scope: str) -> str:
    return markers(con)[scope]


def last_passed(con: duckdb.DuckDBPyConnection, check_key: str) -> str | None:
    """The marker of the check's latest pass, or None."""
    rows = con.sql("SELECT passed_marker FROM int_check_results WHERE check_key = ?", params=[check_key]).fetchall()
    return rows[0][0] if rows else None


def violations(con: duckdb.DuckDBPyConnection, name: str, params: list | None = None) -> pl.DataFrame:
    """The rows that break the SQL invariant ``name`` (none when it holds)."""
    return con.sql(read_sql(__file__, VIOLATIONS[name]), params=params).pl()


def record(con: duckdb.DuckDBPyConnection, check_key: str, passed: bool, checked_marker: str,
           detail: str | None = None) -> None:
    """Record the latest result of ``check_key``, taken on the data of ``checked_marker``; when every
    invoice check has now passed on the current invoices, their months are checked."""
    if check_key not in CHECKS:
        raise KeyError(f"{check_key} is not a blocking check of transforms.audit.CHECKS")
    con.execute(
        """INSERT INTO int_check_results VALUES ($1, $2, $3, CASE WHEN $2 THEN $3 END, $4, now())
           ON CONFLICT (check_key) DO UPDATE SET
               passed = excluded.passed, checked_marker = excluded.checked_marker,
               passed_marker = CASE WHEN excluded.passed THEN excluded.checked_marker
                                    ELSE int_check_results.passed_marker END,
               detail = excluded.detail, checked_at = excluded.checked_at""",
        [check_key, passed, checked_marker, None if detail is None else detail[:DETAIL_CHARS]],
    )
    if CHECKS[check_key] == INVOICES and not _unsettled(con, INVOICES, markers(con)):
        con.execute("DELETE FROM int_unchecked_periods")


def _results(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[bool, str, str | None]]:
    return {key: (passed, checked, detail) for key, passed, checked, detail in con.sql(
        "SELECT check_key, passed, checked_marker, detail FROM int_check_results").fetchall()}


def _unsettled(con: duckdb.DuckDBPyConnection, scope: str, current: dict[str, str]) -> list[str]:
    """The checks of ``scope`` that have not passed on its current data."""
    results = _results(con)
    return [key for key, s in CHECKS.items() if s == scope
            and not (key in results and results[key][0] and results[key][1] == current[scope])]


def in_use(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether checks have ever run on this working database (every Dagster run has them)."""
    return bool(con.sql("SELECT 1 FROM int_check_results LIMIT 1").fetchall())


def refusal(con: duckdb.DuckDBPyConnection, require_all: bool = False) -> str | None:
    """Why publishing must not happen now, or None: a failed check, a result taken on other data, or
    (with ``require_all``) a check that has not run on data that exist."""
    current = markers(con)
    results = _results(con)
    failed, outdated, missing = [], [], []
    for key, scope in CHECKS.items():
        if key not in results:
            if require_all and current[scope] != EMPTY[scope]:
                missing.append(key)
            continue
        passed, checked, detail = results[key]
        if not passed:
            failed.append(f"{key}" + (f"; the first failing rows:\n{detail}" if detail else ""))
        elif checked != current[scope]:
            outdated.append(key)
    if not (failed or outdated or missing):
        return None
    parts = []
    if failed:
        parts.append("blocking checks failed: " + "\n".join(failed))
    if outdated or missing:
        parts.append("blocking checks have not passed on the data as they are now: "
                     + ", ".join(outdated + missing))
    return "publication refused, the published warehouse is left as it was; " + "\n".join(parts)


def require_passed(con: duckdb.DuckDBPyConnection, require_all: bool = False) -> None:
    problem = refusal(con, require_all)
    if problem is not None:
        raise PublicationRefused(problem)


def mark_unchecked(con: duckdb.DuckDBPyConnection, periods: list[date]) -> None:
    """Months whose invoices were just rewritten: unchecked until the invoice checks all pass."""
    con.execute("INSERT OR IGNORE INTO int_unchecked_periods SELECT unnest(?::DATE[])", [periods])


def unchecked_periods(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Invoice months rewritten since the invoice checks last all passed, when checks are in use."""
    if not in_use(con):
        return []
    return [p for (p,) in con.sql("SELECT period_start FROM int_unchecked_periods ORDER BY 1").fetchall()]
