"""Lineage: which raw records make up an invoice, and what became of one raw record and why.

Pure functions over a connection to the published warehouse (SPEC §5 tables; the working database's
views of the same names work too). They return dataclasses and Polars frames and print nothing; the
command line renders them. Every number shown is read from the warehouse or recomputed from its
``usage_events``, never taken from anywhere else, so an explanation is a check of the invoice too.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import duckdb
import polars as pl

from transforms.currencies import CURRENCY_MINOR_UNITS
from transforms.sql_files import read_sql

RECORD_FORMAT = "FILE:LINE[:INDEX]"
INVOICE_FORMAT = "INV-<yyyymm>-<customer_id>"
DEFAULT_LIMIT = 20
_RECORD = re.compile(r"^(?P<file>.+?):(?P<line>[0-9]+)(?::(?P<index>[0-9]+))?$")
_INVOICE = re.compile(r"^INV-(?P<month>[0-9]{6})-(?P<customer>.+)$")
_CHAIN_LIMIT = 50  # decided_by links followed at most (a chain is 1 or 2 long in practice)
_RELATED_LIMIT = 50


class NotFound(LookupError):
    """What was asked for is not in the warehouse. ``suggestions`` are close matches that are."""

    def __init__(self, message: str, suggestions: list[str] | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = list(suggestions or [])
        self.hint = hint


# ---------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, order=True)
class RecordRef:
    """A raw record: the dump file (relative to the raw dir), its line (from 1), the index in a batch."""

    source_file: str
    line_number: int
    record_index: int = 0

    def __str__(self) -> str:
        return f"{self.source_file}:{self.line_number}:{self.record_index}"

    @classmethod
    def parse(cls, text: str) -> RecordRef:
        """``FILE:LINE[:INDEX]`` (INDEX defaults to 0); ValueError if ``text`` is not of that form."""
        match = _RECORD.match(text.strip())
        if not match or int(match["line"]) < 1:
            raise ValueError(f"{text!r} is not a record: expected {RECORD_FORMAT}, "
                             "e.g. samplehc/2026-09.jsonl:12 or paygentic/2026-09.jsonl:5:1 (LINE counts from 1)")
        return cls(match["file"], int(match["line"]), int(match["index"] or 0))


def looks_like_record(text: str) -> bool:
    return bool(_RECORD.match(text.strip()))


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
    event_type: str | None
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


_RECORD_COLUMNS = (
    "source, record_id, outcome, reason, detail, decided_by, customer_key, customer_id, event_type, "
    "received_at, occurred_at, local_date, period_start, dedup_key, version_key, status, member"
)
_USAGE_COLUMNS = (
    "property_index, metric_id, aggregation, quantity, distinct_value, unit_price, price_source, currency, "
    "period_start, invoice_id"
)


def explain_record(con: duckdb.DuckDBPyConnection, ref: RecordRef) -> RecordExplanation:
    """What became of one raw record and why; NotFound (with close matches) if it is not a record."""
    ref = _resolve_file(con, ref)
    key = [ref.source_file, ref.line_number, ref.record_index]
    where = "source_file = ? AND line_number = ? AND record_index = ?"
    rows = con.sql(f"SELECT {_RECORD_COLUMNS} FROM usage_events WHERE {where} ORDER BY property_index LIMIT 1",
                   params=key).fetchall()
    if not rows:
        raise _record_not_found(con, ref)
    names = [c.strip() for c in _RECORD_COLUMNS.split(",")]
    row = dict(zip(names, rows[0]))
    usage = con.sql(f"SELECT {_USAGE_COLUMNS} FROM usage_events WHERE {where} ORDER BY property_index",
                    params=key).pl()
    invoice_ids = sorted({i for i in usage["invoice_id"].to_list() if i is not None})
    deciders = _deciders(con, row["decided_by"])
    related, more = _related(con, row)
    raw = con.sql(f"SELECT raw FROM quarantine WHERE {where} LIMIT 1", params=key).fetchall()
    explanation = RecordExplanation(
        record=ref, record_id=row["record_id"], source=row["source"], outcome=row["outcome"],
        reason=row["reason"], detail=row["detail"], why="",
        customer_key=row["customer_key"], customer_id=row["customer_id"], event_type=row["event_type"],
        received_at=row["received_at"], occurred_at=row["occurred_at"], local_date=row["local_date"],
        period_start=row["period_start"], dedup_key=row["dedup_key"], version_key=row["version_key"],
        status=row["status"], member=row["member"],
        decided_by=deciders[0] if deciders else None, deciders=deciders,
        usage=usage, invoice_ids=invoice_ids, related=related, related_more=more,
        raw=raw[0][0] if raw else None,
    )
    explanation.why = why(explanation)
    return explanation


def _deciders(con, decided_by: str | None) -> list[Decider]:
    chain: list[Decider] = []
    seen = set()
    while decided_by and decided_by not in seen and len(chain) < _CHAIN_LIMIT:
        seen.add(decided_by)
        rows = con.sql("SELECT source_file, line_number, record_index, outcome, detail, decided_by "
                       "FROM usage_events WHERE record_id = ? ORDER BY property_index LIMIT 1",
                       params=[decided_by]).fetchall()
        if not rows:
            # Not in the warehouse (cannot happen for a consistent warehouse): still name it.
            chain.append(Decider(_parse_record_id(decided_by), "unknown", None))
            break
        file, line, index, outcome, detail, decided_by = rows[0]
        chain.append(Decider(RecordRef(file, line, index), outcome, detail))
    return chain


def _parse_record_id(record_id: str) -> RecordRef:
    file, line, index = record_id.rsplit(":", 2)
    return RecordRef(file, int(line), int(index))


def _related(con, row: dict) -> tuple[list[Related], int]:
    frame = con.sql(read_sql(__file__, "explain_related.sql"),
                    params=[row["record_id"], row["source"], row["dedup_key"], row["version_key"]]).pl()
    related = []
    for r in frame.head(_RELATED_LIMIT).iter_rows(named=True):
        relation = ("decided by it" if r["decided_by_this"] else
                    "same idempotency key" if r["same_dedup_key"] else "same version key")
        related.append(Related(RecordRef(r["source_file"], r["line_number"], r["record_index"]), r["outcome"],
                               r["decided_by"], relation))
    return related, max(frame.height - _RELATED_LIMIT, 0)


def _resolve_file(con, ref: RecordRef) -> RecordRef:
    """The record with its file as stored: a path given with a prefix (``data/raw/…``) or a leading
    ``./`` is matched to the one stored file it ends with."""
    if _file_exists(con, ref.source_file):
        return ref
    given = ref.source_file.removeprefix("./").replace("\\", "/")
    candidates = [f for f in _source_files(con) if given == f or given.endswith("/" + f)]
    if len(candidates) == 1:
        return RecordRef(candidates[0], ref.line_number, ref.record_index)
    return ref


def _file_exists(con, source_file: str) -> bool:
    return bool(con.sql("SELECT 1 FROM usage_events WHERE source_file = ? LIMIT 1", params=[source_file]).fetchall())


def _source_files(con) -> list[str]:
    return [f for (f,) in con.sql("SELECT DISTINCT source_file FROM usage_events ORDER BY 1").fetchall()]


def _record_not_found(con, ref: RecordRef) -> NotFound:
    lines = con.sql(
        "SELECT min(line_number), max(line_number), count(DISTINCT line_number) FROM usage_events WHERE source_file = ?",
        params=[ref.source_file]).fetchall()[0]
    first, last, count = lines
    if count == 0:
        files = _source_files(con)
        name = ref.source_file.rsplit("/", 1)[-1]
        same_source = [f for f in files if f.split("/")[0] == ref.source_file.split("/")[0]]
        close = ([f for f in files if f.endswith("/" + name)]
                 or difflib.get_close_matches(ref.source_file, same_source or files, n=3))
        return NotFound(
            f"no dump file {ref.source_file} in the warehouse",
            [f"{f}:{ref.line_number}:{ref.record_index}" for f in close[:3]],
            f"FILE is the dump file's path relative to the raw directory, as in usage_events.source_file "
            f"({len(files)} files in this warehouse), e.g. {files[0] if files else 'samplehc/2026-09.jsonl'}:1",
        )
    indexes = [i for (i,) in con.sql(
        "SELECT DISTINCT record_index FROM usage_events WHERE source_file = ? AND line_number = ? ORDER BY 1",
        params=[ref.source_file, ref.line_number]).fetchall()]
    if indexes:
        return NotFound(
            f"line {ref.line_number} of {ref.source_file} has no record {ref.record_index}: its records are "
            f"{_ranges(indexes)} (INDEX is the 0-based position of the event in the batch)",
            [str(RecordRef(ref.source_file, ref.line_number, i)) for i in indexes[:5]],
        )
    if ref.line_number > last:
        problem = f"the file's last record is on line {last}"
    else:
        problem = f"line {ref.line_number} is blank (a blank or whitespace-only line is not a record)"
    near = con.sql(
        "SELECT DISTINCT line_number FROM usage_events WHERE source_file = ? "
        "ORDER BY abs(line_number - ?), line_number LIMIT 2",
        params=[ref.source_file, ref.line_number]).fetchall()
    return NotFound(
        f"no record on line {ref.line_number} of {ref.source_file}: {problem}; it has records on "
        f"{count} lines from {first} to {last}",
        [f"{ref.source_file}:{n}" for (n,) in sorted(near)],
    )


def _ranges(values: list[int]) -> str:
    return f"{values[0]} to {values[-1]}" if len(values) > 1 else str(values[0])


# ---------------------------------------------------------------------------------------------------
# Why: one sentence per outcome (SPEC §2)

_SOURCE_VERSIONS = {
    "tula": "the version with the greatest modifiedDateTime wins (a missing one counts as its receivedAt; "
            "ties go to the later in order)",
    "sequence": "the last one received wins",
}
REASONS = {  # quarantine reason (SPEC §2): why the record is held back, and what would let it be billed
    "invalid_json": "A line that is not a JSON object cannot be read as a request; it is kept here with its raw "
                    "line, and cannot be billed as it stands.",
    "invalid_envelope": "The capture around the request is incomplete or wrong, so when or for whom it was made "
                        "is unknown; it cannot be billed as it stands.",
    "schema_violation": "The body breaks the vendor's request schema, so the vendor would not have accepted it; "
                        "it cannot be billed as it stands.",
    "invalid_value": "The schema allows the value but it cannot be billed (a negative quantity, a price that is "
                     "not a plain decimal, a time that is not an instant, or a metered property that is missing "
                     "or not a number).",
    "unknown_status": "An event whose status nobody has classified is neither billed nor dropped: declare the "
                      "status as bill or void in statuses.csv and run tally again.",
    "unknown_customer": "Add the key to customer_keys.csv and run tally again to bill it.",
    "no_price": "Add a row for the metric, currency and date to prices.csv (or send the price on the event) "
                "and run tally again to bill it.",
}


def why(e: RecordExplanation) -> str:
    """A human sentence or two saying why the record has its outcome."""
    winner = f"{e.decided_by.record} ({e.decided_by.outcome})" if e.decided_by else None
    final = e.deciders[-1] if e.deciders else None
    counts = (f" Following the chain, {final.record} is the record that stands ({final.outcome})."
              if final and len(e.deciders) > 1 else "")
    if e.outcome == "billed":
        lines = e.usage.height
        priced = sorted(set(e.usage["price_source"].drop_nulls().to_list()))
        prices = " and ".join({"event": "the event's own unit price", "price_book": "the price book"}.get(p, p)
                              for p in priced)
        month = e.period_start.strftime("%Y-%m") if e.period_start else "?"
        return (f"Billed: a valid {e.source} event of customer {e.customer_id} (key {e.customer_key}) that no "
                f"other record repeats, replaces or voids, priced from {prices}, in the {month} billing month: "
                f"{lines} usage line{'s' if lines != 1 else ''} on invoice {', '.join(e.invoice_ids)}.")
    if e.outcome == "duplicate":
        if e.detail == "the vendor answered idempotentReplay: true":
            return ("Duplicate: the captured response says idempotentReplay: true, so the vendor itself says this "
                    f"request repeats an earlier one with the same idempotency key {e.dedup_key}; such a record "
                    "is never billed and never counts as the first copy of its key, whether or not the earlier "
                    "copy is in the dumps.")
        if e.detail == "re-delivery of an identical line":
            return (f"Duplicate: the line is equal, as JSON values (key order and number spelling aside), to the "
                    f"earlier line of {winner} from the same source: the same capture delivered again, which "
                    f"counts once.{counts}")
        if e.detail == "idempotency key already used by an earlier record":
            return (f"Duplicate: the earlier record {winner} used the same idempotency key {e.dedup_key}, and "
                    f"the first record of a key stands: the vendor keeps the first event for a reused key, "
                    f"whatever the new body says.{counts}")
        return (f"Duplicate: {e.detail or 'a re-send of an earlier record'}"
                + (f"; the record that stands is {winner}." if winner else ".") + counts)
    if e.outcome == "superseded":
        rule = _SOURCE_VERSIONS.get(e.source, "a later version wins")
        return (f"Superseded: {winner} is another version of the same event (version key {e.version_key}); "
                f"{rule}, and only the winning version can be billed.{counts}")
    if e.outcome == "voided":
        if e.detail and e.detail.startswith("status "):
            what = f"its status {e.status} has the effect void in statuses.csv"
        elif e.detail and "VOID" in e.detail:
            what = "its customerAlias is VOID, the vendor's way to remove an event"
        else:
            what = e.detail or "it is cancelled"
        return (f"Voided: it is the winning version of its event and {what}, so the event is cancelled: neither "
                "it nor the versions it replaced are billed.")
    if e.outcome == "rejected_by_vendor":
        return ("Rejected by the vendor: the captured response says the vendor did not record this event (an "
                "error status, or the event listed in a partial success's failed entries), so there is nothing "
                "to bill.")
    if e.outcome == "unmetered":
        return (f"Unmetered: the record is valid, but there is {e.detail or 'no meter for its event type'} in "
                f"meters.csv, so it is not billable; add a meter for ({e.source}, {e.event_type}) to meters.csv "
                "and run tally again to bill such events.")
    if e.outcome == "quarantined":
        detail = f": {e.detail}." if e.detail else "."
        return f"Quarantined ({e.reason}){detail} {REASONS.get(e.reason or '', 'It cannot be billed as it stands.')}"
    return f"{e.outcome}: {e.detail or ''}".strip()


# ---------------------------------------------------------------------------------------------------
# Invoices


@dataclass
class InvoiceLine:
    metric_id: str
    aggregation: str
    unit_price: Decimal
    quantity: Decimal
    amount: Decimal
    currency: str
    event_count: int
    usage_lines: int  # billed usage lines behind the line (a paygentic record may have several)
    records: int  # distinct billed records behind the line
    recomputed_quantity: Decimal | None  # the aggregate over those usage lines, recomputed now
    expected_amount: Decimal  # quantity × unit_price rounded half-to-even to the currency's minor unit
    price_sources: list[str]
    shown: pl.DataFrame  # the first usage lines (all with limit None), in file order

    @property
    def quantity_matches(self) -> bool:
        return self.recomputed_quantity == self.quantity

    @property
    def amount_matches(self) -> bool:
        return self.expected_amount == self.amount

    @property
    def events_match(self) -> bool:
        return self.records == self.event_count

    @property
    def not_shown(self) -> int:
        return self.usage_lines - self.shown.height


@dataclass
class InvoiceExplanation:
    invoice_id: str
    customer_id: str
    period_start: date
    period_end: date
    currency: str
    total: Decimal
    line_count: int
    event_count: int
    lines: list[InvoiceLine] = field(default_factory=list)
    records: int = 0  # distinct billed records on the invoice, recomputed from usage_events
    limit: int | None = DEFAULT_LIMIT

    @property
    def lines_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def consistent(self) -> bool:
        return (self.lines_total == self.total and len(self.lines) == self.line_count
                and self.records == self.event_count
                and all(line.quantity_matches and line.amount_matches and line.events_match for line in self.lines))


def explain_invoice(con: duckdb.DuckDBPyConnection, invoice_id: str, limit: int | None = DEFAULT_LIMIT) -> InvoiceExplanation:
    """Every line of an invoice with the raw records it came from (the first ``limit`` usage lines of
    each invoice line, all with None); NotFound with close invoice ids if there is no such invoice."""
    rows = con.sql("SELECT invoice_id, customer_id, period_start, period_end, currency, total, line_count, "
                   "event_count FROM invoices WHERE invoice_id = ?", params=[invoice_id]).fetchall()
    if not rows:
        raise _invoice_not_found(con, invoice_id)
    explanation = InvoiceExplanation(*rows[0], limit=limit)
    minor_units = CURRENCY_MINOR_UNITS.get(explanation.currency, 4)
    lines = con.sql(read_sql(__file__, "explain_invoice_lines.sql"), params=[invoice_id]).pl()
    shown = con.sql(read_sql(__file__, "explain_invoice_records.sql"), params=[invoice_id, limit]).pl()
    by_line = shown.partition_by("metric_id", "unit_price", as_dict=True, maintain_order=True)
    for line in lines.iter_rows(named=True):
        explanation.lines.append(InvoiceLine(
            **{k: line[k] for k in ("metric_id", "aggregation", "unit_price", "quantity", "amount", "currency",
                                    "event_count", "usage_lines", "records", "recomputed_quantity",
                                    "price_sources")},
            expected_amount=amount(line["quantity"], line["unit_price"], minor_units),
            shown=by_line.get((line["metric_id"], line["unit_price"]), shown.clear()),
        ))
    explanation.records = con.sql(
        "SELECT count(DISTINCT record_id) FROM usage_events WHERE invoice_id = ? AND outcome = 'billed'",
        params=[invoice_id]).fetchall()[0][0]
    return explanation


def amount(quantity: Decimal, unit_price: Decimal, minor_units: int) -> Decimal:
    """quantity × unit_price exactly, rounded half-to-even to ``minor_units`` digits (SPEC §4)."""
    with localcontext() as ctx:
        ctx.prec = 100
        return (quantity * unit_price).quantize(Decimal(1).scaleb(-minor_units), rounding=ROUND_HALF_EVEN)


def _invoice_not_found(con, invoice_id: str) -> NotFound:
    text = invoice_id.strip()
    total, example = con.sql("SELECT count(*), min(invoice_id) FROM invoices").fetchall()[0]
    match = _INVOICE.match(text)
    customer, month = (match["customer"], match["month"]) if match else (text, None)
    # The customer's invoices, nearest month first: an id with the wrong month, or a bare customer id.
    suggestions = [i for (i,) in con.sql(
        "SELECT invoice_id FROM invoices WHERE customer_id = ? "
        "ORDER BY abs(datediff('month', period_start, coalesce(try_strptime(?, '%Y%m')::DATE, period_start))), "
        "period_start DESC LIMIT 3", params=[customer, month]).fetchall()]
    if not suggestions:
        candidates = [i for (i,) in con.sql(
            "SELECT invoice_id FROM invoices WHERE strftime(period_start, '%Y%m') = ? OR ? <= 100000",
            params=[month, total]).fetchall()]
        suggestions = difflib.get_close_matches(text, candidates, n=3, cutoff=0.6)
    hint = f"Invoice ids are {INVOICE_FORMAT} ({total} invoice{'s' if total != 1 else ''} in this warehouse" + (
        f", e.g. {example})" if example else ")")
    return NotFound(f"no invoice {text} in the warehouse", suggestions, hint)


# ---------------------------------------------------------------------------------------------------
# Output helpers shared by the renderers


def plain_number(value: Decimal | None) -> str:
    """A decimal as the number it is, without trailing zeros or exponent: 12.750000 → 12.75."""
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal, currency: str) -> str:
    """An amount with its currency's minor unit digits: 0.3820 BHD → 0.382, 2837.0000 JPY → 2837."""
    digits = CURRENCY_MINOR_UNITS.get(currency, 4)
    return format(value.quantize(Decimal(1).scaleb(-digits)), "f")


def distinct_value_text(value: str | None) -> str:
    """``string:u-17`` → ``"u-17"``, ``number:3`` → ``3``: the counted value as JSON spells it."""
    if value is None:
        return ""
    kind, _, text = value.partition(":")
    return json.dumps(text) if kind == "string" else text


def to_jsonable(value):
    """Dataclasses, frames, decimals and dates as plain JSON values (decimals as exact strings)."""
    if isinstance(value, pl.DataFrame):
        return [to_jsonable(row) for row in value.iter_rows(named=True)]
    if isinstance(value, RecordRef):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        data = {name: to_jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
        for name in ("quantity_matches", "amount_matches", "events_match", "not_shown", "lines_total", "consistent"):
            if hasattr(type(value), name):
                data[name] = to_jsonable(getattr(value, name))
        return data
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
