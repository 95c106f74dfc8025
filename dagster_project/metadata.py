"""Materialization metadata shared by every asset: row count and a markdown preview."""

from __future__ import annotations

import dagster as dg
import polars as pl

BILLING_PERIODS_KEY = "billing_periods"
LOAD_ID_KEY = "load_id"  # raw: the load this run added (absent when it added nothing)
STAGED_AFTER_KEY = "staged_after"  # staging: this run staged the loads after this one


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
    with pl.Config(tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True,
                   tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=200):
        return str(frame)
