"""Issuing a close (SPEC §7): number, freeze and render the documents a close file issues.

A close issues the invoices of its month and the pending adjustments of the months closed before, all
computed from exactly the files and reference data its close file records. ``matches`` says whether the
working database holds exactly those; the runner makes it so before it issues (``dagster_project.runner``).

Numbers: one gapless sequence per number prefix (the issuer's ``number_prefix``) and issue year, in the
order (issue date, month, invoices before notes, customer_id): ``<prefix>-<yyyy>-<n>``, n from 000001.
A close's documents, their lines, their lineage and the close itself are written in one transaction:
a close is issued whole or not at all. Issued rows are never updated or deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

import duckdb
import polars as pl

from transforms.lifecycle.control import Close
from transforms.lifecycle.documents import closed_months, line_records, pending_documents
from transforms.transactions import transaction

Renderer = Callable[[Mapping, Sequence[Mapping]], bytes]


class IssueRefused(Exception):
    """The close cannot be issued from the working database as it is (say, no issuer)."""


def issued_months(con: duckdb.DuckDBPyConnection) -> set:
    return set(closed_months(con))


def loaded_files(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every dump file loaded so far: path relative to the raw folder -> sha256."""
    return dict(con.sql("SELECT source_file, file_sha256 FROM raw_files ORDER BY source_file").fetchall())


def mismatch(con: duckdb.DuckDBPyConnection, close: Close, reference_fingerprint: str) -> str | None:
    """Why the working database does not hold exactly the inputs of ``close``, or None when it does."""
    loaded = loaded_files(con)
    if loaded != close.files:
        extra = sorted(set(loaded.items()) - set(close.files.items()))
        missing = sorted(set(close.files.items()) - set(loaded.items()))
        named = ", ".join(p for p, _ in (missing or extra)[:3])
        return (f"the working database holds {'more' if extra else 'fewer'} dump files than close {close.label} "
                f"records ({named})")
    current = con.sql("SELECT any_value(sha256) FROM ref_fingerprint").fetchall()[0][0]
    if current != reference_fingerprint:
        return f"the reference data in force are not the copy close {close.label} records"
    stale = con.sql("SELECT count(*) FROM int_stale_periods").fetchall()[0][0]
    if stale:
        return f"{stale} billing months wait for their invoices to be rebuilt"
    return None


def issue_close(con: duckdb.DuckDBPyConnection, close: Close, render: Renderer) -> pl.DataFrame:
    """Issue ``close``: its month's invoices and every pending adjustment; returns the issued documents."""
    if close.month in issued_months(con):
        raise IssueRefused(f"close {close.label} is issued already")
    issuer = con.sql("SELECT name, address, tax_id, number_prefix, payment_terms_days FROM ref_issuer").fetchall()
    if len(issuer) != 1:
        raise IssueRefused(f"close {close.label} has no issuer: its reference data need issuer.csv (one row)")
    name, address, tax_id, prefix, terms = issuer[0]
    documents, lines = pending_documents(con, sorted({*closed_months(con), close.month}))
    year = close.issue_date.year
    last = con.execute("SELECT coalesce(max(sequence), 0) FROM lc_issued WHERE number_prefix = ? AND issue_year = ?",
                       [prefix, year]).fetchall()[0][0]
    customers = {row[0]: row[1:] for row in con.sql(
        "SELECT customer_id, name, address, tax_id FROM ref_customers").fetchall()}
    numbers = {draft: f"{prefix}-{year}-{last + n:06d}" for n, draft in enumerate(documents["document_number"], 1)}
    invoices = {(c, p): numbers.get(d, d) for c, p, d in documents.filter(pl.col("kind") == "invoice")
                .select("customer_id", "period_start", "document_number").iter_rows()}
    lines = lines.with_columns(pl.col("document_number").replace_strict(numbers))
    rows = []
    for seq, doc in enumerate(documents.iter_rows(named=True), last + 1):
        customer = customers.get(doc["customer_id"], (None, None, None))
        issued = {
            "document_number": numbers[doc["document_number"]], "kind": doc["kind"],
            "customer_id": doc["customer_id"], "period_start": doc["period_start"], "period_end": doc["period_end"],
            "currency": doc["currency"], "issue_date": close.issue_date,
            "due_date": close.issue_date + timedelta(days=int(terms)),
            "corrects": doc["corrects"] or (None if doc["kind"] == "invoice"
                                            else invoices.get((doc["customer_id"], doc["period_start"]))),
            "total": doc["total"], "issuer_name": name, "issuer_address": address, "issuer_tax_id": tax_id,
            "customer_name": customer[0] or doc["customer_id"], "customer_address": customer[1],
            "customer_tax_id": customer[2], "number_prefix": prefix, "issue_year": year, "sequence": seq,
            "close_month": close.month,
        }
        doc_lines = lines.filter(pl.col("document_number") == issued["document_number"]).to_dicts()
        issued["sha256"] = _sha256(render(issued, doc_lines))
        rows.append(issued)
    issued_frame = pl.DataFrame(rows, schema_overrides={"total": pl.Decimal(38, 4)}) if rows else None
    records = line_records(con, lines)
    with transaction(con):
        if issued_frame is not None:
            con.register("issued_frame", issued_frame)
            con.register("issued_lines", lines)
            con.register("issued_records", records)
            con.execute("INSERT INTO lc_issued BY NAME SELECT * FROM issued_frame")
            con.execute("INSERT INTO lc_issued_lines BY NAME SELECT * EXCLUDE (doc_kind, currency) FROM issued_lines")
            con.execute("INSERT INTO lc_issued_records BY NAME SELECT * FROM issued_records")
        con.execute("INSERT INTO lc_closes VALUES (?, ?, ?)", [close.month, close.issue_date, close.sha256])
        con.execute("UPDATE lc_writes SET writes = writes + 1")
    for name in ("issued_frame", "issued_lines", "issued_records"):
        try:
            con.unregister(name)
        except duckdb.Error:
            pass
    return issued_frame if issued_frame is not None else pl.DataFrame()


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
