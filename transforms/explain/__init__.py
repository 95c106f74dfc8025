"""Lineage: which raw records make up an invoice, and what became of one raw record and why.

Pure functions over a connection to the published warehouse. They read its lineage views, so an
explanation says what an analyst's query of ``invoice_line_records`` or ``record_outcomes`` says; they
return dataclasses and Polars frames and print nothing (the command line renders them). Every number is
read from the warehouse or recomputed from it, so an explanation is a check of the invoice too.

- ``invoice``: an invoice's lines, the records behind each, and the numbers checked again.
- ``record``: one record's outcome, the record that decided it and the records linked to it.
- ``reasons``: the sentence that says why a record has its outcome.
- ``refs``: parsing what is asked for, and what is there instead when it is not found.
"""

from __future__ import annotations

import duckdb

from transforms.explain.document import (
    DOCUMENT_FORMAT,
    DocumentExplanation,
    explain_document,
    has_documents,
    looks_like_document,
)
from transforms.explain.invoice import (
    DEFAULT_LIMIT,
    InvoiceExplanation,
    InvoiceLine,
    explain_invoice,
)
from transforms.explain.reasons import REASONS, why
from transforms.explain.record import (
    Decider,
    RecordExplanation,
    Related,
    explain_record,
)
from transforms.explain.refs import (
    INVOICE_FORMAT,
    RECORD_EXAMPLE,
    RECORD_FORMAT,
    NotFound,
    RecordRef,
    looks_like_record,
)

__all__ = [
    "DEFAULT_LIMIT",
    "DOCUMENT_FORMAT",
    "DocumentExplanation",
    "explain_document",
    "INVOICE_FORMAT",
    "REASONS",
    "RECORD_EXAMPLE",
    "RECORD_FORMAT",
    "Decider",
    "InvoiceExplanation",
    "InvoiceLine",
    "NotFound",
    "RecordExplanation",
    "RecordRef",
    "Related",
    "explain",
    "explain_invoice",
    "explain_record",
    "looks_like_record",
    "why",
]


def explain(con: duckdb.DuckDBPyConnection, target: str,
            limit: int | None = DEFAULT_LIMIT) -> InvoiceExplanation | RecordExplanation | DocumentExplanation:
    """``target`` explained: a document number (``DOCUMENT_FORMAT``), an invoice id (``INVOICE_FORMAT``),
    else a record (``RECORD_FORMAT``). NotFound says what is there instead, and how each is written when
    ``target`` is none of them."""
    target = target.strip()
    if looks_like_document(target) and has_documents(con):
        return explain_document(con, target, limit)
    try:
        return explain_invoice(con, target, limit)
    except NotFound as missing:
        if not looks_like_record(target):
            if not target.startswith("INV-"):
                missing.hint += f"; a record is {RECORD_FORMAT}, e.g. {RECORD_EXAMPLE}"
            raise
    try:
        return explain_record(con, RecordRef.parse(target))
    except ValueError as error:
        raise NotFound(str(error)) from None
