"""What became of one raw record and why, read from the warehouse's ``record_outcomes`` view (the record,
the record that decided it, the records its outcome is linked to), its usage lines from ``usage_events``
and, when quarantined, its raw line from ``quarantine``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import polars as pl

from transforms.explain.reasons import why
from transforms.explain.refs import RecordRef, record_not_found, resolve_file
from transforms.raw.redact import redact_line
from transforms.sql_files import read_sql

CHAIN_LIMIT = 50  # decided_by links followed at most (a chain is 1 or 2 long in practice)
RELATED_LIMIT = 50
# An instant Python cannot hold (UTC year 0000 or 10000: RFC 3339 allows offsets of up to a day) is not
# shown; its raw line is. The instant's type stays a datetime for every other record.
_SHOWN_INSTANT = ("CASE WHEN occurred_at BETWEEN TIMESTAMPTZ '0001-01-01 00:00:00+00' "
                 "AND TIMESTAMPTZ '9999-12-31 23:59:59.999999+00' THEN occurred_at END AS occurred_at")
_RECORD_COLUMNS = ("record_id, source, outcome, reason, detail, decided_by, customer_key, "
                   f"customer_id, event_types, received_at, {_SHOWN_INSTANT}, local_date, period_start, dedup_key, "
                   "version_key, status, member, invoice_id")
_USAGE_COLUMNS = ("property_index, metric_id, aggregation, quantity, distinct_value, unit_price, price_source, "
                  "currency, period_start, invoice_id")


@dataclass(frozen=True)
class Related:
    """Another record linked to the explained one by an outcome decision."""

    record: RecordRef
    outcome: str
    decided_by: str | None
    relation: str  # "decided by it", "same idempotency key", "same version key"


@dataclass(frozen=True)
class Decider:
    """A record that decided another's outcome (``decided_by``), with its own outcome."""

    record: RecordRef
    outcome: str
    detail: str | None


@dataclass
class RecordExplanation:
    record: RecordRef
    record_id: str
    source: str
    outcome: str
    reason: str | None
    detail: str | None
    why: str  # one human sentence or two: what the outcome means for this record
    customer_key: str | None
    customer_id: str | None
    event_type: str | None  # of the first usage line
    received_at: datetime | None
    occurred_at: datetime | None
    local_date: date | None
    period_start: date | None
    dedup_key: str | None
    version_key: str | None
    status: str | None
    member: str | None
    decided_by: Decider | None  # the record that won its duplicate or version, when one did
    deciders: list[Decider]  # decided_by followed to a record that stands (first is decided_by)
    usage: pl.DataFrame  # one row per usage line: property_index, metric_id, aggregation, quantity, ...
    invoice_ids: list[str]
    related: list[Related]
    related_more: int  # related records left out of ``related``
    raw: str | None  # the quarantined line as stored, credentials redacted


def explain_record(con: duckdb.DuckDBPyConnection, ref: RecordRef) -> RecordExplanation:
    """What became of one raw record and why; NotFound (with close matches) if it is not a record."""
    ref = resolve_file(con, ref)
    found = con.sql(f"SELECT {_RECORD_COLUMNS} FROM record_outcomes WHERE record_id = ?", params=[str(ref)])
    rows = found.fetchall()
    if not rows:
        raise record_not_found(con, ref)
    row = dict(zip(found.columns, rows[0]))
    usage = con.sql(f"SELECT {_USAGE_COLUMNS} FROM usage_events WHERE record_id = ? ORDER BY property_index",
                    params=[str(ref)]).pl()
    deciders = _deciders(con, row)
    related = _related(con, row)
    raw = con.sql("SELECT raw FROM quarantine WHERE source_file = ? AND line_number = ? AND record_index = ?",
                  params=[ref.source_file, ref.line_number, ref.record_index]).fetchall()
    explanation = RecordExplanation(
        record=ref, why="", event_type=(row["event_types"] or [None])[0],
        **{name: row[name] for name in ("record_id", "source", "outcome", "reason", "detail", "customer_key",
                                        "customer_id", "received_at", "occurred_at", "local_date", "period_start",
                                        "dedup_key", "version_key", "status", "member")},
        decided_by=deciders[0] if deciders else None, deciders=deciders, usage=usage,
        invoice_ids=[row["invoice_id"]] if row["invoice_id"] else [],
        related=related[:RELATED_LIMIT], related_more=max(len(related) - RELATED_LIMIT, 0),
        # Redacted again: a warehouse published by an older tally may hold what its redaction missed.
        raw=redact_line(raw[0][0]) if raw else None,
    )
    explanation.why = why(explanation)
    return explanation


def _deciders(con: duckdb.DuckDBPyConnection, row: dict) -> list[Decider]:
    """The record's ``decided_by``, and on along each one's own ``decided_by`` to the record that stands."""
    chain: list[Decider] = []
    decided_by = row["decided_by"]
    seen = {row["record_id"]}
    while decided_by and decided_by not in seen and len(chain) < CHAIN_LIMIT:
        seen.add(decided_by)
        found = con.sql("SELECT outcome, detail, decided_by FROM record_outcomes WHERE record_id = ?",
                        params=[decided_by]).fetchall()
        if not found:  # not in the warehouse (cannot happen in a consistent one): still name it
            chain.append(Decider(RecordRef.from_id(decided_by), "unknown", None))
            break
        outcome, detail, next_decided_by = found[0]
        chain.append(Decider(RecordRef.from_id(decided_by), outcome, detail))
        decided_by = next_decided_by
    return chain


def _related(con: duckdb.DuckDBPyConnection, row: dict) -> list[Related]:
    keys = {name: row[name] for name in ("record_id", "source", "dedup_key", "version_key")}
    return [Related(RecordRef.from_id(record_id), outcome, decided_by,
                    "decided by it" if decided_this else "same idempotency key" if same_key else "same version key")
            for record_id, outcome, decided_by, decided_this, same_key, _ in
            con.sql(read_sql(__file__, "related.sql"), params=keys).fetchall()]
