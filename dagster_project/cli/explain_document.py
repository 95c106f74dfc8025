"""How `tally explain` prints a billing document (SPEC §7): its facts, lines and the records behind them."""

from __future__ import annotations

from rich.console import Console

from transforms.explain import DocumentExplanation
from transforms.marts.formatting import format_money, format_quantity, format_unit_price

KINDS = {"invoice": "Invoice", "credit_note": "Credit note", "debit_note": "Debit note"}
CHANGES = {"billed": "billed on it", "added": "added since the last issue", "removed": "removed since (voided, "
           "superseded, repriced or moved)", "kept": "the same records, whose figures changed"}


def print_document(out: Console, e: DocumentExplanation, fields, columns) -> None:
    title = f"{KINDS[e.kind]} {e.document_number}" + (" (draft: issued by the next close)" if e.status == "draft"
                                                        else " (issued)")
    out.print(title, style="bold")
    facts = [("customer", f"{e.customer_name or e.customer_id} ({e.customer_id})"),
             ("service period", f"{e.period_start} to {e.period_end} (exclusive)")]
    if e.issue_date:
        facts += [("issued", str(e.issue_date)), ("due", str(e.due_date))]
    if e.corrects:
        facts.append(("corrects", e.corrects))
    check = "✓" if e.consistent else "✗ MISMATCH"
    facts.append(("total", f"{format_money(e.total, e.currency)}, the sum of the {len(e.lines)} line amounts {check}"))
    if e.sha256:
        facts.append(("sha256", f"{e.sha256} (issued/{e.document_number}.pdf)"))
    if e.issued_for_month:
        facts.append(("issued for this month", ", ".join(e.issued_for_month)))
    fields(out, facts)
    for line in e.lines:
        out.print()
        price = format_unit_price(line.unit_price, e.currency)
        out.print(f"{line.description or line.metric_id}: {format_quantity(line.quantity)} × {price} = "
                  f"{format_money(line.amount, e.currency)}", style="bold")
        if not line.record_count:
            out.print("  no records of its own (a fee, a minimum, or figures that changed without records)")
            continue
        rows = [("record", "change")] + [(r, CHANGES.get(c, c)) for r, c in line.records.iter_rows()]
        columns(out, rows, right=set())
        if line.record_count > line.records.height:
            out.print(f"  … and {line.record_count - line.records.height} more (--all shows every one)")
