"""What a billing document is made of (SPEC §7): an issued invoice or note, or a pending adjustment, with
the records behind each line from ``document_line_records`` and its numbers checked again.

An issued invoice's line lists its billed records; a note's line the records whose addition, removal or
new price made it (or all of them, ``kept``, when only their figures changed). Reads the published
warehouse only.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb
import polars as pl

from transforms.explain.refs import NotFound
from transforms.sql_files import read_sql

DOCUMENT_FORMAT = "<prefix>-<yyyy>-<n> (issued) or ADJ-<yyyymm>-<customer_id> (a pending adjustment)"
_DOCUMENT = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_-]*-[0-9]{4}-[0-9]{6}|ADJ-[0-9]{6}-.+)$")


@dataclass
class DocumentLine:
    metric_id: str
    kind: str
    tier: int | None
    unit_price: Decimal
    quantity: Decimal
    amount: Decimal
    event_count: int
    description: str | None
    records: pl.DataFrame  # record_id, change; the first ``limit`` (all with None)
    record_count: int


@dataclass
class DocumentExplanation:
    document_number: str
    kind: str
    status: str
    customer_id: str
    customer_name: str | None
    period_start: date
    period_end: date
    currency: str
    issue_date: date | None
    due_date: date | None
    corrects: str | None
    total: Decimal
    sha256: str | None
    lines: list[DocumentLine] = field(default_factory=list)
    issued_for_month: list[str] = field(default_factory=list)  # every number issued for this customer and month

    @property
    def lines_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def consistent(self) -> bool:
        return self.lines_total == self.total


def looks_like_document(text: str) -> bool:
    return bool(_DOCUMENT.match(text.strip()))


def has_documents(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.sql("SELECT 1 FROM duckdb_tables() WHERE table_name = 'documents'").fetchall())


def explain_document(con: duckdb.DuckDBPyConnection, number: str, limit: int | None = 20) -> DocumentExplanation:
    """The document ``number`` with its lines and their records; NotFound with close numbers otherwise."""
    number = number.strip()
    rows = con.sql("SELECT document_number, kind, status, customer_id, customer_name, period_start, period_end, "
                   "currency, issue_date, due_date, corrects, total, sha256 FROM documents WHERE document_number = ?",
                   params=[number]).fetchall()
    if not rows:
        known = [n for (n,) in con.sql("SELECT document_number FROM documents WHERE document_number NOT LIKE 'INV-%'")
                 .fetchall()]
        raise NotFound(f"no document {number} in the warehouse", difflib.get_close_matches(number, known, n=3),
                       f"Document numbers are {DOCUMENT_FORMAT}")
    explanation = DocumentExplanation(*rows[0])
    explanation.issued_for_month = [n for (n,) in con.sql(
        "SELECT document_number FROM documents WHERE status = 'issued' AND customer_id = ? AND period_start = ? "
        "ORDER BY issue_date, document_number", params=[explanation.customer_id, explanation.period_start]).fetchall()]
    records = con.sql(read_sql(__file__, "document_records.sql"), params={"number": number, "limit": limit}).pl()
    for line in con.sql("SELECT metric_id, kind, tier, unit_price, quantity, amount, event_count, description "
                        "FROM document_lines WHERE document_number = ? ORDER BY metric_id, kind DESC, tier, unit_price",
                        params=[number]).fetchall():
        key = (pl.col("metric_id") == line[0]) & (pl.col("kind") == line[1]) & (pl.col("unit_price") == line[3]) \
            & (pl.col("tier").eq_missing(line[2]))
        mine = records.filter(key)
        explanation.lines.append(DocumentLine(*line, records=mine.select("record_id", "change"),
                                              record_count=int(mine["line_records"].max() or 0)))
    return explanation
