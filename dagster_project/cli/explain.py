"""`tally explain`: the raw records behind an invoice, or what became of one raw record and why."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from dagster_project.cli.common import (
    EXIT_USAGE,
    CommandError,
    add_db_option,
    console,
    open_warehouse,
)
from dagster_project.cli.generate import positive
from transforms.explain import (
    DEFAULT_LIMIT,
    INVOICE_FORMAT,
    RECORD_FORMAT,
    InvoiceExplanation,
    InvoiceLine,
    NotFound,
    RecordExplanation,
    RecordRef,
    distinct_value_text,
    explain_invoice,
    explain_record,
    looks_like_record,
    money,
    plain_number,
    to_jsonable,
)

HELP = "show the raw records behind an invoice, or what became of one raw record and why"
DESCRIPTION = f"""\
TARGET is an invoice id or a raw record.

An invoice id ({INVOICE_FORMAT}) shows the invoice, each of its lines, and under each line the raw
records it came from (source file, line, index) with their quantities and unit prices, and checks the
numbers again: the line's quantity against the meter's aggregate of those records, its amount against
quantity × unit price rounded to the currency, the total against the sum of the lines.

A record ({RECORD_FORMAT}: the dump file's path relative to the raw directory, the line number
counting from 1, and for paygentic the 0-based index of the event in the batch, default 0) shows its
outcome and why, its reason and detail, its idempotency and version keys, the record that won its
duplicate or version and what became of that one, its usage lines and invoices, the records its outcome
is linked to, and for a quarantined record the raw line (credentials redacted).

Reads the published warehouse only, read-only. Exit status 2 when there is no such invoice or record
(close matches are suggested), 1 when there is no warehouse."""
_CHECK = {True: "✓", False: "✗ MISMATCH"}
_AGGREGATE = {"sum": "the sum of", "max": "the largest of", "count": "the count of",
              "unique_count": "the number of distinct values among"}


def add_parser(commands) -> None:
    parser = commands.add_parser("explain", help=HELP, description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", metavar="TARGET",
                        help=f"an invoice id ({INVOICE_FORMAT}) or a raw record ({RECORD_FORMAT})")
    add_db_option(parser, "published warehouse to read")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--limit", type=positive, default=DEFAULT_LIMIT, metavar="N",
                       help="records shown under each invoice line (default %(default)s); the rest are counted")
    shown.add_argument("--all", action="store_true", help="show every record under each invoice line")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text, for scripts")
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    con = open_warehouse(args.db)
    try:
        explanation = _explain(con, args.target.strip(), None if args.all else args.limit)
    except NotFound as missing:
        did_you_mean = f"Did you mean: {', '.join(missing.suggestions)}?" if missing.suggestions else ""
        raise CommandError(missing.message, "\n".join(filter(None, [did_you_mean, missing.hint])),
                           EXIT_USAGE) from None
    finally:
        con.close()
    if args.json:
        print(json.dumps(to_jsonable(explanation), indent=2))
        return 0
    out = console()
    if isinstance(explanation, InvoiceExplanation):
        print_invoice(out, explanation)
    else:
        print_record(out, explanation)
    return 0


def _explain(con, target: str, limit: int | None):
    try:
        return explain_invoice(con, target, limit)
    except NotFound as missing:
        if not looks_like_record(target):
            if not target.startswith("INV-"):
                missing.hint += (f"; a record is {RECORD_FORMAT}, e.g. samplehc/2026-09.jsonl:12 (LINE counts "
                                 "from 1; INDEX, default 0, is the event's position in a paygentic batch)")
            raise
    try:
        return explain_record(con, RecordRef.parse(target))
    except ValueError as error:
        raise NotFound(str(error)) from None


# ---------------------------------------------------------------------------------------------------
# Invoices


def print_invoice(out: Console, e: InvoiceExplanation) -> None:
    cur = e.currency
    out.print(f"Invoice {e.invoice_id}", style="bold")
    _fields(out, [
        ("customer", e.customer_id),
        ("period", f"{e.period_start} to {e.period_end} (exclusive)"),
        ("currency", cur),
        ("total", (f"{money(e.total, cur)} {cur}, the sum of the {len(e.lines)} line amounts "
                   f"{_CHECK[e.lines_total == e.total]}")),
        ("lines", f"{e.line_count} {_CHECK[len(e.lines) == e.line_count]}"),
        ("events", (f"{e.event_count} billed records {_CHECK[e.records == e.event_count]} "
                    "(recounted from usage_events)")),
    ])
    for line in e.lines:
        out.print()
        _print_line(out, line, e.limit)
    if not e.consistent:
        out.print("\nThe invoice does not match the records it was built from (✗ above): the warehouse is "
                  "inconsistent; run `tally run` again, and report it if it stays.", style="red")


def _print_line(out: Console, line: InvoiceLine, limit: int | None) -> None:
    cur = line.currency
    events = f"{line.event_count} event{'s' if line.event_count != 1 else ''}"
    out.print(f"{line.metric_id} at {plain_number(line.unit_price)} {cur} per unit: "
              f"{plain_number(line.quantity)} × {plain_number(line.unit_price)} = {money(line.amount, cur)} {cur}, "
              f"{events}", style="bold")
    lines = f"{line.usage_lines} usage line{'s' if line.usage_lines != 1 else ''}"
    if line.aggregation == "count":
        source = f"the count of {line.records} record{'s' if line.records != 1 else ''}"
    else:
        source = f"{_AGGREGATE.get(line.aggregation, line.aggregation)} {lines}"
    out.print(f"  quantity {plain_number(line.quantity)} = {source} ({line.aggregation}): "
              f"{plain_number(line.recomputed_quantity)} {_CHECK[line.quantity_matches]}")
    digits = len(money(line.amount, cur).partition(".")[2])
    out.print(f"  amount {money(line.amount, cur)} = {plain_number(line.quantity)} × {plain_number(line.unit_price)}"
              f" = {plain_number(line.quantity * line.unit_price)}, rounded half-to-even to {digits} decimals "
              f"{_CHECK[line.amount_matches]}")
    if not line.events_match:
        out.print(f"  events {line.event_count} on the line, {line.records} billed records found "
                  f"{_CHECK[False]}", style="red")
    value = "value" if line.aggregation == "unique_count" else "quantity"
    rows = [("record", value, "unit price", "price source")]
    for r in line.shown.iter_rows(named=True):
        record = r["record_id"] + (f" (property {r['property_index']})" if r["property_index"] else "")
        quantity = (distinct_value_text(r["distinct_value"]) if line.aggregation == "unique_count"
                    else plain_number(r["quantity"]))
        rows.append((record, quantity, plain_number(line.unit_price), r["price_source"] or ""))
    for text in _columns(rows, right={1, 2}):
        out.print("    " + text)
    if line.not_shown:
        out.print(f"    … and {line.not_shown} more usage line{'s' if line.not_shown != 1 else ''} "
                  f"(the first {limit} are shown: --limit N or --all to see more)")


# ---------------------------------------------------------------------------------------------------
# Records


def print_record(out: Console, e: RecordExplanation) -> None:
    out.print(f"Record {e.record} ({e.source})", style="bold")
    fields = [("outcome", e.outcome + (f" ({e.reason})" if e.reason else ""))]
    fields.append(("why", e.why))
    if e.detail:
        fields.append(("detail", e.detail))
    if e.decided_by is not None:
        fields.append(("won by", f"{e.decided_by.record} ({e.decided_by.outcome})"))
        for decider in e.deciders[1:]:
            fields.append(("", f"itself won by {decider.record} ({decider.outcome})"))
    if e.dedup_key:
        fields.append(("idempotency key", e.dedup_key))
    if e.version_key:
        fields.append(("version key", e.version_key))
    if e.status:
        fields.append(("status", e.status))
    if e.customer_key or e.customer_id:
        fields.append(("customer", f"key {e.customer_key}" + (f" → {e.customer_id}" if e.customer_id else
                                                                " (not in customer_keys.csv)")))
    if e.member:
        fields.append(("member", e.member))
    if e.event_type:
        fields.append(("event type", e.event_type))
    if e.received_at:
        fields.append(("received", _instant(e.received_at)))
    if e.occurred_at:
        local = f" (local date {e.local_date}" + (f", billing month {e.period_start:%Y-%m})" if e.period_start
                                                   else ")") if e.local_date else ""
        fields.append(("occurred", _instant(e.occurred_at) + local))
    if e.invoice_ids:
        fields.append(("invoice", ", ".join(e.invoice_ids)))
    _fields(out, fields)
    usage = [row for row in e.usage.iter_rows(named=True) if row["metric_id"] is not None]
    if usage:
        out.print("\n  usage lines")
        rows = [("property", "metric", "aggregation", "quantity", "unit price", "price source", "invoice")]
        for u in usage:
            quantity = (distinct_value_text(u["distinct_value"]) if u["aggregation"] == "unique_count"
                        else plain_number(u["quantity"]))
            price = f"{plain_number(u['unit_price'])} {u['currency'] or ''}".strip() if u["unit_price"] is not None else ""
            rows.append((str(u["property_index"]), u["metric_id"], u["aggregation"] or "", quantity, price,
                         u["price_source"] or "", u["invoice_id"] or ""))
        for text in _columns(rows, right={0, 3, 4}):
            out.print("    " + text)
    if e.related:
        out.print("\n  records its outcome is linked to")
        rows = [("record", "outcome", "link")]
        rows += [(str(r.record), r.outcome, r.relation) for r in e.related]
        for text in _columns(rows):
            out.print("    " + text)
        if e.related_more:
            out.print(f"    … and {e.related_more} more")
    if e.raw is not None:
        out.print("\n  raw line (as stored, credentials redacted)")
        raw = e.raw if len(e.raw) <= 4000 else e.raw[:4000] + f" … ({len(e.raw) - 4000} more characters; --json shows all)"
        out.print("    " + raw, soft_wrap=True)


def _instant(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".") + " UTC"


def _fields(out: Console, fields: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        out.print(f"  {name:<{width}}  {value}")


def _columns(rows: list[tuple], right: set[int] = frozenset()) -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(str(v).rjust(w) if i in right else str(v).ljust(w)
                      for i, (v, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
