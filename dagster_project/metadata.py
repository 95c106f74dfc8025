"""Materialization metadata shared by every asset: row count and a markdown preview."""

from __future__ import annotations

import dagster as dg
import polars as pl


BILLING_PERIODS_KEY = "billing_periods"


def table_metadata(frame: pl.DataFrame, rows: int | None = None, **extra) -> dict:
    preview = frame.head(10)
    return {
        "dagster/row_count": dg.MetadataValue.int(frame.height if rows is None else rows),
        "preview": dg.MetadataValue.md(_markdown(preview)),
        **extra,
    }


def _markdown(frame: pl.DataFrame) -> str:
    if frame.is_empty():
        return "_no rows_"
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *body])
