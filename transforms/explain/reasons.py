"""Why a record has its outcome, in a sentence or two a person reads (SPEC §2), from what
``record.explain_record`` read: the outcome, reason and detail, the keys, and the record that decided it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transforms.explain.record import RecordExplanation

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
                     "not a plain decimal, a number with more digits than can be read exactly, a time that is "
                     "not an instant, a metered property that is missing "
                     "or not a number, a time whose local date is outside the billing months 0001-01 to "
                     "9999-12, or a record of an invoice held because a figure does not fit its column).",
    "unknown_status": "An event whose status nobody has classified is neither billed nor dropped: declare the "
                      "status as bill or void in statuses.csv and run tally again.",
    "unknown_customer": "Add the key to customer_keys.csv and run tally again to bill it.",
    "no_price": "Add a row for the metric, currency and date to prices.csv (or send the price on the event) "
                "and run tally again to bill it.",
}


def why(e: RecordExplanation) -> str:
    """A human sentence or two saying why the record has its outcome."""
    if e.outcome == "billed":
        return _billed(e)
    if e.outcome == "duplicate":
        return _duplicate(e)
    if e.outcome == "superseded":
        rule = _SOURCE_VERSIONS.get(e.source, "a later version wins")
        return (f"Superseded: {_winner(e)} is another version of the same event (version key {e.version_key}); "
                f"{rule}, and only the winning version can be billed.{_chain(e)}")
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


def _billed(e: RecordExplanation) -> str:
    lines = e.usage.height
    priced = sorted(set(e.usage["price_source"].drop_nulls().to_list()))
    prices = " and ".join({"event": "the event's own unit price", "price_book": "the price book"}.get(p, p)
                          for p in priced)
    month = e.period_start.isoformat()[:7] if e.period_start else "?"
    return (f"Billed: a valid {e.source} event of customer {e.customer_id} (key {e.customer_key}) that no "
            f"other record repeats, replaces or voids, priced from {prices}, in the {month} billing month: "
            f"{lines} usage line{'s' if lines != 1 else ''} on invoice {', '.join(e.invoice_ids)}.")


def _duplicate(e: RecordExplanation) -> str:
    if e.detail == "the vendor answered idempotentReplay: true":
        return ("Duplicate: the captured response says idempotentReplay: true, so the vendor itself says this "
                f"request repeats an earlier one with the same idempotency key {e.dedup_key}; such a record "
                "is never billed and never counts as the first copy of its key, whether or not the earlier "
                "copy is in the dumps.")
    if e.detail == "re-delivery of an identical line":
        return (f"Duplicate: the line is equal, as JSON values (key order and number spelling aside), to the "
                f"earlier line of {_winner(e)} from the same source: the same capture delivered again, which "
                f"counts once.{_chain(e)}")
    if e.detail == "idempotency key already used by an earlier record":
        return (f"Duplicate: the earlier record {_winner(e)} used the same idempotency key {e.dedup_key}, and "
                f"the first record of a key stands: the vendor keeps the first event for a reused key, "
                f"whatever the new body says.{_chain(e)}")
    return (f"Duplicate: {e.detail or 'a re-send of an earlier record'}"
            + (f"; the record that stands is {_winner(e)}." if e.decided_by else ".") + _chain(e))


def _winner(e: RecordExplanation) -> str | None:
    """The record that decided this one, with its own outcome."""
    return f"{e.decided_by.record} ({e.decided_by.outcome})" if e.decided_by else None


def _chain(e: RecordExplanation) -> str:
    """Where following ``decided_by`` ends, when the record that decided this one was itself decided."""
    if len(e.deciders) < 2:
        return ""
    final = e.deciders[-1]
    return f" Following the chain, {final.record} is the record that stands ({final.outcome})."
