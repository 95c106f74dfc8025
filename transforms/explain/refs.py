"""What `tally explain` is asked about: a raw record (``FILE:LINE[:INDEX]``) or an invoice id, found in
the warehouse as given or as the user most likely meant it; ``NotFound`` with close matches otherwise.

These are lookups of keys (files, lines, indexes, invoice ids), so they read the tables themselves:
``usage_events`` holds every record's key, and reading it beats aggregating each record's usage lines
as ``record_outcomes`` does.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import duckdb

RECORD_FORMAT = "FILE:LINE[:INDEX]"
RECORD_EXAMPLE = ("samplehc/2026-09.jsonl:12 (LINE counts from 1; INDEX, default 0, is the event's position in "
                  "a paygentic batch)")
INVOICE_FORMAT = "INV-<yyyymm>-<customer_id>"
_RECORD = re.compile(r"^(?P<file>.+?):(?P<line>[0-9]+)(?::(?P<index>[0-9]+))?$")
_INVOICE = re.compile(r"^INV-(?P<month>[0-9]{6})-(?P<customer>.+)$")


class NotFound(LookupError):
    """What was asked for is not in the warehouse. ``suggestions`` are close matches that are."""

    def __init__(self, message: str, suggestions: list[str] | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = list(suggestions or [])
        self.hint = hint


@dataclass(frozen=True, order=True)
class RecordRef:
    """A raw record: the dump file (relative to the raw dir), its line (from 1), the index in a batch."""

    source_file: str
    line_number: int
    record_index: int = 0

    def __str__(self) -> str:
        """The record's ``record_id`` in the warehouse."""
        return f"{self.source_file}:{self.line_number}:{self.record_index}"

    @classmethod
    def parse(cls, text: str) -> RecordRef:
        """``FILE:LINE[:INDEX]`` (INDEX defaults to 0); ValueError if ``text`` is not of that form."""
        match = _RECORD.match(text.strip())
        if not match or int(match["line"]) < 1:
            raise ValueError(f"{text!r} is not a record: expected {RECORD_FORMAT}, "
                             "e.g. samplehc/2026-09.jsonl:12 or paygentic/2026-09.jsonl:5:1 (LINE counts from 1)")
        return cls(match["file"], int(match["line"]), int(match["index"] or 0))

    @classmethod
    def from_id(cls, record_id: str) -> RecordRef:
        """The record of a warehouse ``record_id`` (``source_file:line_number:record_index``)."""
        file, line, index = record_id.rsplit(":", 2)
        return cls(file, int(line), int(index))


def looks_like_record(text: str) -> bool:
    return bool(_RECORD.match(text.strip()))


def resolve_file(con: duckdb.DuckDBPyConnection, ref: RecordRef) -> RecordRef:
    """The record with its file as stored: a path given with a prefix (``data/raw/…``) or a leading
    ``./`` is matched to the one stored file it ends with."""
    if con.sql("SELECT 1 FROM usage_events WHERE source_file = ? LIMIT 1", params=[ref.source_file]).fetchall():
        return ref
    given = ref.source_file.removeprefix("./").replace("\\", "/")
    candidates = [f for f in _source_files(con) if given == f or given.endswith("/" + f)]
    if len(candidates) == 1:
        return RecordRef(candidates[0], ref.line_number, ref.record_index)
    return ref


def record_not_found(con: duckdb.DuckDBPyConnection, ref: RecordRef) -> NotFound:
    """Why ``ref`` is not a record (no such file, a blank line, past the end, no such index), with the
    records nearest to it."""
    first, last, count = con.sql(
        "SELECT min(line_number), max(line_number), count(DISTINCT line_number) FROM usage_events WHERE source_file = ?",
        params=[ref.source_file]).fetchall()[0]
    if count == 0:
        files = _source_files(con)
        name = ref.source_file.rsplit("/", 1)[-1]
        same_source = [f for f in files if f.split("/")[0] == ref.source_file.split("/")[0]]
        close = ([f for f in files if f.endswith("/" + name)]
                 or difflib.get_close_matches(ref.source_file, same_source or files, n=3))
        return NotFound(
            f"no dump file {ref.source_file} in the warehouse",
            [str(RecordRef(f, ref.line_number, ref.record_index)) for f in close[:3]],
            f"FILE is the dump file's path relative to the raw directory, as in usage_events.source_file "
            f"({len(files)} files in this warehouse), e.g. {files[0] if files else 'samplehc/2026-09.jsonl'}:1",
        )
    indexes = [i for (i,) in con.sql(
        "SELECT DISTINCT record_index FROM usage_events WHERE source_file = ? AND line_number = ? ORDER BY 1",
        params=[ref.source_file, ref.line_number]).fetchall()]
    if indexes:
        its = f"{indexes[0]} to {indexes[-1]}" if len(indexes) > 1 else str(indexes[0])
        return NotFound(
            f"line {ref.line_number} of {ref.source_file} has no record {ref.record_index}: its records are "
            f"{its} (INDEX is the 0-based position of the event in the batch)",
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


def invoice_not_found(con: duckdb.DuckDBPyConnection, invoice_id: str) -> NotFound:
    """No invoice ``invoice_id``: the customer's invoices nearest in month (an id with the wrong month,
    or a bare customer id), else ids spelled alike."""
    text = invoice_id.strip()
    total, example = con.sql("SELECT count(*), min(invoice_id) FROM invoices").fetchall()[0]
    match = _INVOICE.match(text)
    customer, month = (match["customer"], match["month"]) if match else (text, None)
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


def _source_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [f for (f,) in con.sql("SELECT DISTINCT source_file FROM usage_events ORDER BY 1").fetchall()]
