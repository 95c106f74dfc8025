"""Held invoices: a customer month whose figures the invoice columns cannot hold.

Each record's quantity and unit price fit DECIMAL(38, 18), but a month's sum of quantities need not,
nor a line's amount or an invoice's total DECIMAL(38, 4). Such an invoice cannot be billed as it
stands, and one customer month must not stop the billing of everyone else. So the invoice is *held*:
each of its records is quarantined ``invalid_value``, its detail naming the invoice and the figure that
does not fit, and the month is invoiced without it.

Holding is the last rule of pricing, decided with the priced usage (so its contracts and checks read
the outcomes as they are published) over the months whose usage changed (``int_stale_periods``, until
the invoice step rebuilds them; a full rebuild makes every month stale). It is decided per invoice, on
all of its records: never by the order they came in. A held record keeps its ``invoice_id`` in the
priced usage (pricing gives one to billed records only, so a quarantined record with an invoice is a
held one), and every decision reads the month's billed and held records alike: a void or a new price
that makes the invoice fit bills its records again.
"""

from __future__ import annotations

from decimal import localcontext

import duckdb
import polars as pl

from transforms import marts
from transforms.changes import Pending, applied_change, latest_reference_hash, mark_applied, next_change_id, record_change
from transforms.intermediate import count_outcomes
from transforms.marts.invoices import MONEY_LIMIT, QUANTITY_LIMIT, unfit_invoices
from transforms.sql_files import read_sql
from transforms.transactions import transaction

HELD = pl.Schema({"invoice_id": pl.String, "detail": pl.String})


def held_invoices(con: duckdb.DuckDBPyConnection, aggregated: pl.DataFrame) -> pl.DataFrame:
    """``HELD``: the invoices of ``aggregated`` (``marts.month_usage``) with a figure that does not fit."""
    _, usage = marts.usage_lines(con, aggregated)
    unfit = unfit_invoices(aggregated, usage)
    return pl.DataFrame([(invoice, f"invoice {invoice} is held: {problem}") for invoice, problem in unfit.items()],
                        schema=HELD, orient="row")


def may_not_fit(con: duckdb.DuckDBPyConnection, periods: list) -> bool:
    """Whether an invoice of ``periods`` may have a figure that does not fit, or a held one may fit now:
    False only when nothing is held and no figure can reach its limit, whatever the records' grouping
    (``fit_bounds.sql``).

    With n usage lines of quantity at most q, priced at most p (an event's or the book's price, a tier's,
    a package's), and flat fees at most f on t tiers: a line's quantity is at most n·q (a max or a
    distinct count less; packages no more), an invoice's total at most (n·q + n)·p + n·(t·(f + 1) + 1)
    (a package rounds its count up by less than one, and each line's amount up by less than one). A minimum
    commitment only raises a total to its minimum, which fits. Computing the months' invoices to decide
    takes about four times as long as this bound, and it almost always settles it.
    """
    lines, quantity, price, fee, tiers, held = con.sql(read_sql(__file__, "fit_bounds.sql"), params=[periods]).fetchall()[0]
    with localcontext() as ctx:
        ctx.prec = 100
        quantities = lines * quantity
        total = (quantities + lines) * price + lines * (tiers * (fee + 1) + 1)
    return bool(held) or quantities >= QUANTITY_LIMIT or total >= MONEY_LIMIT


def hold_unfit_invoices(con: duckdb.DuckDBPyConnection) -> int:
    """Hold the invoices of the stale months that do not fit, and bill again the records of those that
    fit now; returns how many usage lines changed outcome."""
    periods = [period for (period,) in con.sql("SELECT period_start FROM int_stale_periods ORDER BY 1").fetchall()]
    if not periods or not may_not_fit(con, periods):
        return 0
    con.register("held_invoices", held_invoices(con, marts.month_usage(con, periods, with_held=True)))
    try:
        con.execute(read_sql(__file__, "hold_changes.sql"), [periods])
        changed = con.sql("SELECT count(*) FROM hold_changes").fetchall()[0][0]
        if changed:
            con.execute("CREATE OR REPLACE TEMP TABLE hold_lines AS "
                        "SELECT DISTINCT source, source_file, line_number FROM hold_changes")
            with transaction(con):
                con.execute(read_sql(__file__, "apply_holds.sql"), [_change_for_holds(con)])
                count_outcomes(con)
    finally:
        con.unregister("held_invoices")
    return changed


def _change_for_holds(con: duckdb.DuckDBPyConnection) -> int:
    """The change the changed outcomes belong to (call in the transaction that applies them).

    The newest change, if publishing has not applied it yet: its lines gain the changed ones. Otherwise
    (the months' invoices were never rebuilt after it was published) a change of their own, which
    metering and pricing have nothing to redo for.
    """
    latest = next_change_id(con) - 1
    if applied_change(con, "priced_usage") < latest:
        raise RuntimeError(f"priced usage is behind change {latest}: price the usage before holding invoices")
    if applied_change(con, "publish") < latest:
        con.execute("INSERT INTO int_changed_lines SELECT ?, * FROM hold_lines", [latest])
        return latest
    change = latest + 1
    record_change(con, change, False, latest_reference_hash(con), "hold_lines")
    mark_applied(con, "priced_usage", Pending(change, False))
    return change
