"""`tally explain`: the raw records behind an invoice, or what became of one raw record and why."""

from __future__ import annotations

import argparse
import json

import duckdb
from rich.console import Console

from dagster_project.cli.common import (
    EXIT_USAGE,
    CommandError,
    add_db_option,
    console,
    count,
    open_warehouse,
    print_json,
)
from dagster_project.cli.generate import positive
from dagster_project.cli.explain_document import print_document
from transforms.explain import (
    DEFAULT_LIMIT,
    DOCUMENT_FORMAT,
    DocumentExplanation,
    INVOICE_FORMAT,
    RECORD_FORMAT,
    InvoiceExplanation,
    InvoiceLine,
    NotFound,
    RecordExplanation,
    explain,
)
from transforms.marts.formatting import (
    format_money,
    format_quantity,
    format_unit_price,
    minor_unit,
)

HELP = "show the raw records behind an invoice, or what became of one raw record and why"
DESCRIPTION = f"""\
TARGET is a document number, an invoice id or a raw record.

A document number ({DOCUMENT_FORMAT}) shows the issued invoice, credit note or debit note, or the
pending adjustment: its customer, service period, issue and due dates, the invoice it corrects, and under
each line the records behind it: an invoice line's billed records, and a note line's records whose
addition, removal or new price made it.

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
        explanation = explain(con, args.target, None if args.all else args.limit)
    except NotFound as missing:
        did_you_mean = f"Did you mean: {', '.join(missing.suggestions)}?" if missing.suggestions else ""
        raise CommandError(missing.message, "\n".join(filter(None, [did_you_mean, missing.hint])),
                           EXIT_USAGE) from None
    except duckdb.Error as error:  # a warehouse published before its views had what explain reads
        raise CommandError(f"cannot read the warehouse {args.db}: {str(error).splitlines()[0]}",
                           "Run `tally run`: it publishes the warehouse again with the current views.") from None
    finally:
        con.close()
    if args.json:
        print_json(explanation)
    elif isinstance(explanation, InvoiceExplanation):
        print_invoice(console(), explanation)
    elif isinstance(explanation, DocumentExplanation):
        print_document(console(), explanation, _fields, _columns)
    else:
        print_record(console(), explanation)
    return 0


# ---------------------------------------------------------------------------------------------------
# Invoices


def print_invoice(out: Console, e: InvoiceExplanation) -> None:
    out.print(f"Invoice {e.invoice_id}", style="bold")
    _fields(out, [
        ("customer", e.customer_id),
        ("period", f"{e.period_start} to {e.period_end} (exclusive)"),
        ("currency", e.currency),
        ("total", (f"{_money(e.total, e.currency)}, the sum of the {len(e.lines)} line amounts "
                   f"{_CHECK[e.lines_total == e.total]}")),
        ("lines", f"{e.line_count} {_CHECK[len(e.lines) == e.line_count]}"),
        ("events", (f"{e.event_count} billed records {_CHECK[e.records == e.event_count]} "
                    "(recounted from invoice_line_records)")),
    ])
    for line in e.lines:
        out.print()
        _print_line(out, line, e.limit)
    if not e.consistent:
        out.print("\nThe invoice does not match the records it was built from (✗ above): the warehouse is "
                  "inconsistent; run `tally run` again, and report it if it stays.", style="red")


def _print_line(out: Console, line: InvoiceLine, limit: int | None) -> None:
    price, quantity = format_unit_price(line.unit_price, line.currency), format_quantity(line.quantity)
    label = line.description or line.metric_id
    per = {"usage": " per package" if line.price_model == "package" else " per unit"}.get(line.kind, "")
    out.print(f"{label} at {price}{per}: {quantity} × {price} = {_money(line.amount, line.currency)}, "
              f"{count(line.event_count, 'event')}", style="bold")
    if line.kind != "usage":
        out.print(f"  a {line.kind.replace('_', ' ')} line: one unit at its price, with no records of its own")
        return
    if line.rated:
        month = "none" if line.recomputed_quantity is None else format_quantity(line.recomputed_quantity)
        split = "" if line.split_quantity is None else format_quantity(line.split_quantity)
        out.print(f"  a {line.price_model} price rates the month's quantity as a whole: the month's {line.aggregation} "
                  f"over {count(line.records, 'record')} is {month}"
                  + (f"; its tier lines add up to {split}" if line.price_model == "graduated" else "")
                  + f" {_CHECK[line.quantity_matches]}. Which records fall in which tier is not meaningful: every "
                  "record of the month stands behind each tier line.")
    if line.aggregation == "count":
        source = f"the count of {count(line.records, 'record')}"
    else:
        source = f"{_AGGREGATE.get(line.aggregation, line.aggregation)} {count(line.usage_lines, 'usage line')}"
    recomputed = "none" if line.recomputed_quantity is None else format_quantity(line.recomputed_quantity)
    if not line.rated:
        out.print(f"  quantity {quantity} = {source} ({line.aggregation}): {recomputed} {_CHECK[line.quantity_matches]}")
    exact = format_unit_price(line.exact_amount, line.currency)  # every digit, as an amount before rounding
    out.print(f"  amount {_money(line.amount, line.currency)} = {quantity} × {price} = {exact}, rounded "
              f"half-to-even to {minor_unit(line.currency)} decimals {_CHECK[line.amount_matches]}")
    if not line.events_match:
        out.print(f"  events {line.event_count} on the line, {line.records} billed records found "
                  f"{_CHECK[False]}", style="red")
    rows = [("record", "value" if line.aggregation == "unique_count" else "quantity", "unit price", "price source")]
    rows += [(r["record_id"] + (f" (property {r['property_index']})" if r["property_index"] else ""),
              _value(line.aggregation, r), price, r["price_source"] or "") for r in line.shown.iter_rows(named=True)]
    _columns(out, rows, right={1, 2})
    if line.not_shown:
        out.print(f"    … and {count(line.not_shown, 'more usage line')} "
                  f"(the first {limit} are shown: --limit N or --all to see more)")


# ---------------------------------------------------------------------------------------------------
# Records


def print_record(out: Console, e: RecordExplanation) -> None:
    out.print(f"Record {e.record} ({e.source})", style="bold")
    _fields(out, [(name, value) for name, value in _record_fields(e) if value])
    usage = [u for u in e.usage.iter_rows(named=True) if u["metric_id"] is not None]
    if usage:
        out.print("\n  usage lines")
        _columns(out, [("property", "metric", "aggregation", "quantity", "unit price", "price source", "invoice")] + [
            (str(u["property_index"]), u["metric_id"], u["aggregation"] or "", _value(u["aggregation"], u),
             "" if u["unit_price"] is None else format_unit_price(u["unit_price"], u["currency"]),
             u["price_source"] or "", u["invoice_id"] or "") for u in usage], right={0, 3, 4})
    if e.related:
        out.print("\n  records its outcome is linked to")
        _columns(out, [("record", "outcome", "link")] + [(str(r.record), r.outcome, r.relation) for r in e.related])
        if e.related_more:
            out.print(f"    … and {e.related_more} more")
    if e.raw is not None:
        out.print("\n  raw line (as stored, credentials redacted)")
        raw = e.raw if len(e.raw) <= 4000 else e.raw[:4000] + f" … ({len(e.raw) - 4000} more characters; --json shows all)"
        out.print("    " + raw, soft_wrap=True)


def _record_fields(e: RecordExplanation) -> list[tuple[str, str | None]]:
    """The record's fields in the order they are shown; an empty one is left out."""
    fields = [("outcome", e.outcome + (f" ({e.reason})" if e.reason else "")), ("why", e.why), ("detail", e.detail)]
    if e.decided_by is not None:
        fields.append(("won by", f"{e.decided_by.record} ({e.decided_by.outcome})"))
        fields += [("", f"itself won by {d.record} ({d.outcome})") for d in e.deciders[1:]]
    customer = occurred = None
    if e.customer_key or e.customer_id:
        customer = f"key {e.customer_key}" + (f" → {e.customer_id}" if e.customer_id else " (not in customer_keys.csv)")
    if e.occurred_at and e.local_date:
        month = f", billing month {e.period_start:%Y-%m}" if e.period_start else ""
        occurred = f"{_instant(e.occurred_at)} (local date {e.local_date}{month})"
    elif e.occurred_at:
        occurred = _instant(e.occurred_at)
    return fields + [("idempotency key", e.dedup_key), ("version key", e.version_key), ("status", e.status),
                     ("customer", customer), ("member", e.member), ("event type", e.event_type),
                     ("received", e.received_at and _instant(e.received_at)), ("occurred", occurred),
                     ("invoice", ", ".join(e.invoice_ids))]


# ---------------------------------------------------------------------------------------------------
# Text


def _money(amount, currency: str) -> str:
    """``format_money``; an amount with more digits than the currency has, which only a warehouse edited
    by hand holds (and the checks then mark), is shown with all of them rather than refused."""
    try:
        return format_money(amount, currency)
    except ValueError:
        return format_unit_price(amount, currency)


def _value(aggregation: str | None, usage: dict) -> str:
    """What a usage line adds to its meter: its quantity, or for unique_count the value counted, as JSON
    spells it (``string:u-17`` → ``"u-17"``, ``number:3`` → ``3``)."""
    if aggregation != "unique_count":
        return "" if usage["quantity"] is None else format_quantity(usage["quantity"])
    kind, _, text = (usage["distinct_value"] or "").partition(":")
    return json.dumps(text) if kind == "string" else text


def _instant(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".") + " UTC"


def _fields(out: Console, fields: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        out.print(f"  {name:<{width}}  {value}")


def _columns(out: Console, rows: list[tuple], right: set[int] = frozenset()) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.print("    " + "  ".join(str(v).rjust(w) if i in right else str(v).ljust(w)
                                     for i, (v, w) in enumerate(zip(row, widths))).rstrip())
