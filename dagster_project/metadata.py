"""Materialization metadata: row counts, markdown previews and the charts of the marts.

Charts are markdown (Dagster's UI renders ``MetadataValue.md`` as GitHub-flavoured markdown): a table
with the exact number in one column and a bar of block characters in the next. Bars are computed in
integer eighths of a block from the exact values, so no number in the text went through a float.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import dagster as dg
import polars as pl

from transforms.marts.formatting import format_money
from transforms.outcomes import OUTCOMES

BILLING_PERIODS_KEY = "billing_periods"
LOAD_ID_KEY = "load_id"  # raw: the load this run added (absent when it added nothing)
STAGED_AFTER_KEY = "staged_after"  # staging: this run staged the loads after this one
BAR_WIDTH = 24  # blocks of the longest bar
_EIGHTHS = " ▏▎▍▌▋▊▉"


def table_metadata(frame: pl.DataFrame, rows: int | None = None, **extra) -> dict:
    preview = frame.head(10)
    return {
        "dagster/row_count": dg.MetadataValue.int(frame.height if rows is None else rows),
        "preview": dg.MetadataValue.md(markdown_table(preview)),
        **extra,
    }


def markdown_table(frame: pl.DataFrame) -> str:
    """Every row and column of ``frame`` as a markdown table (no width limit: Polars would otherwise wrap
    long column names over two lines, which breaks the table)."""
    if frame.is_empty():
        return "_no rows_"
    with pl.Config(tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True,
                   tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=200, tbl_width_chars=-1):
        return str(frame)


def bar(value: Decimal | int, largest: Decimal | int, width: int = BAR_WIDTH) -> str:
    """``value`` as a bar of block characters, ``width`` blocks for ``largest``, to an eighth of a block
    (half-to-even); a non-zero value gets at least an eighth, so it never looks like zero."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = int((Decimal(value) * width * 8 / Decimal(largest)).to_integral_value(ROUND_HALF_EVEN))
    eighths = max(eighths, 1)
    return "█" * (eighths // 8) + _EIGHTHS[eighths % 8].strip()


def billed_per_month_chart(rows: list[tuple[date, str, Decimal, int]]) -> str:
    """Billed amount per month and currency, from (period_start, currency, total, invoices) rows:
    one table per currency (amounts in different currencies are not comparable), bars scaled to that
    currency's largest month."""
    if not rows:
        return "_no invoices_"
    sections = []
    for currency in sorted({row[1] for row in rows}):
        months = sorted((row for row in rows if row[1] == currency), key=lambda row: row[0])
        largest = max(total for _, _, total, _ in months)
        table = ["| month | invoices | billed | |", "|---|--:|--:|:--|"]
        table += [f"| {period.isoformat()[:7]} | {count} | {format_money(total, currency)} | {bar(total, largest)} |"
                  for period, _, total, count in months]
        sections.append(f"**{currency}**\n\n" + "\n".join(table))
    return "\n\n".join(sections)


def outcomes_chart(reconciliation: pl.DataFrame) -> str:
    """Records by outcome for each source (rows of ``reconciliation``) and for all sources: count,
    share of the source's records (to 0.1 %) and a bar of that share. Outcomes without records are left
    out."""
    if reconciliation.is_empty():
        return "_no records_"
    totals = {"source": "all sources", **{c: reconciliation[c].sum() for c in ("records", *OUTCOMES)}}
    table = ["| source | outcome | records | share | |", "|---|---|--:|--:|:--|"]
    for row in [*reconciliation.sort("source").iter_rows(named=True), totals]:
        table.append(f"| **{row['source']}** | all | {row['records']} | | |")
        for outcome in OUTCOMES:
            if row[outcome]:
                share = (Decimal(row[outcome]) * 100 / row["records"]).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
                table.append(f"| | {outcome} | {row[outcome]} | {share} % | {bar(row[outcome], row['records'])} |")
    return "\n".join(table)


def outcome_counts(reconciliation: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """One integer per outcome (all sources), plus ``records``: Dagster plots numeric metadata across
    materializations."""
    return {name: dg.MetadataValue.int(int(reconciliation[name].sum())) for name in ("records", *OUTCOMES)}
