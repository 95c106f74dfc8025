"""Documents (SPEC §7): what is issued, what is pending, and the draft of every month not closed yet.

A closed month's figures recomputed now are compared, line by line on (metric_id, kind, tier,
unit_price), with everything issued for it (``differences.sql``). Where they differ, the (customer,
month) has a pending **adjustment**: a credit note when its total is negative, else a debit note, or an
ordinary invoice when nothing was issued for that customer and month. A month not closed has a **draft**
invoice: the §5 invoice. Drafts and pending adjustments have no number; their ``document_number`` is a
draft id (``INV-<yyyymm>-<customer>`` for an invoice, ``ADJ-<yyyymm>-<customer>`` for a note) that the
close which issues them replaces with a number.

``rebuild`` writes the ``documents``, ``document_lines`` and ``document_line_records`` tables that are
published: the issued documents as issued, then the drafts and pending adjustments as they are now.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from transforms.sql_files import read_sql
from transforms.transactions import transaction

INVOICE, CREDIT_NOTE, DEBIT_NOTE = "invoice", "credit_note", "debit_note"
LINE_KEY = ["metric_id", "kind", "tier", "unit_price"]
DOCUMENT_COLUMNS = ["document_number", "kind", "status", "customer_id", "period_start", "period_end", "currency",
                    "issue_date", "due_date", "corrects", "total", "sha256"]
LINE_COLUMNS = ["document_number", "metric_id", "kind", "tier", "unit_price", "quantity", "amount", "event_count"]


def closed_months(con: duckdb.DuckDBPyConnection) -> list[date]:
    return [month for (month,) in con.sql("SELECT month FROM lc_closes ORDER BY month").fetchall()]


def pending_documents(con: duckdb.DuckDBPyConnection, months: list[date]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The adjustments of the closed ``months``: one document per (customer, month) whose recomputed
    figures differ from what was issued, in the order they are numbered (month, invoices before notes,
    customer), and their lines (``document_number`` a draft id)."""
    lines = con.sql(read_sql(__file__, "differences.sql"), params=[months]).pl()
    invoiced = con.sql("SELECT customer_id, period_start, document_number AS corrects FROM lc_issued "
                       "WHERE kind = 'invoice'").pl()
    documents = (
        lines.group_by("customer_id", "period_start")
        .agg(pl.col("currency").first(), pl.col("amount").sum().alias("total"))
        .join(invoiced, on=["customer_id", "period_start"], how="left")
        .with_columns(
            kind=pl.when(pl.col("corrects").is_null()).then(pl.lit(INVOICE))
            .when(pl.col("total") < 0).then(pl.lit(CREDIT_NOTE)).otherwise(pl.lit(DEBIT_NOTE)),
            period_end=pl.col("period_start").dt.offset_by("1mo"),
        )
        .with_columns(document_number=pl.format(
            "{}-{}-{}", pl.when(pl.col("kind") == INVOICE).then(pl.lit("INV")).otherwise(pl.lit("ADJ")),
            pl.col("period_start").dt.strftime("%Y%m"), pl.col("customer_id")))
        .with_columns(kind_order=(pl.col("kind") != INVOICE).cast(pl.Int8))
        .sort("period_start", "kind_order", "customer_id")
        .drop("kind_order")
    )
    numbered = lines.join(documents.select("customer_id", "period_start", "document_number", "kind")
                          .rename({"kind": "doc_kind"}), on=["customer_id", "period_start"])
    return documents, numbered.sort("document_number", "metric_id", "kind", "tier", "unit_price", nulls_last=True)


def line_records(con: duckdb.DuckDBPyConnection, lines: pl.DataFrame) -> pl.DataFrame:
    """The lineage of ``lines`` (document_number, doc_kind, customer_id, period_start and the line key)."""
    con.register("doc_lines", lines.select("document_number", "doc_kind", "customer_id", "period_start", *LINE_KEY))
    try:
        return con.sql(read_sql(__file__, "line_records.sql")).pl()
    finally:
        con.unregister("doc_lines")


def rebuild(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rewrite ``documents``, ``document_lines`` and ``document_line_records`` from what was issued, the
    pending adjustments of the closed months and the draft invoices of the others; counts by status."""
    closed = closed_months(con)
    pending, pending_lines = pending_documents(con, closed)
    pending_records = line_records(con, pending_lines)
    con.register("pending_documents", pending.with_columns(status=pl.lit("draft")))
    con.register("pending_lines", pending_lines)
    con.register("pending_records", pending_records)
    try:
        with transaction(con):
            for statement in read_sql(__file__, "rebuild.sql").split(";\n\n"):
                con.execute(statement, [closed] if "$1" in statement else None)
            con.execute("UPDATE lc_writes SET writes = writes + 1")
    finally:
        for name in ("pending_documents", "pending_lines", "pending_records"):
            con.unregister(name)
    return dict(con.sql("SELECT status, count(*) FROM documents GROUP BY ALL").fetchall())


def months(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per month: closed or open, the numbers issued for it, and its drafts (the draft invoices of an open
    month, the pending adjustments of a closed one)."""
    return con.sql(read_sql(__file__, "months.sql")).pl()
