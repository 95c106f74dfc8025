"""Realistic dumps of any size for all four sources, written streaming, with matching reference data.

Rates per line, roughly: 0.5% re-delivered identically, 0.5% re-sent with a used idempotency key or as
a new version of an earlier event, 0.5% rejected by the vendor, 0.2% voided (tula, sequence), 0.1% each
of bad lines, schema violations and unknown customers. paygentic batches hold 1 to 5 events, 2% of
them 100 and 0.2% 1000, a quarter of those several MB; every paygentic file with room opens with one
line of each shape. Two billing months; receivedAt grows with the file number, so the last files are
the newest, as a daily drop would be. Deterministic for a given seed.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from pathlib import Path

from transforms.raw.dump_files import SOURCES

CURRENCIES = (("USD", "America/New_York"), ("EUR", "Europe/Berlin"), ("JPY", "Asia/Tokyo"),
              ("BHD", "Asia/Bahrain"), ("USD", ""), ("GBP", "Europe/London"))
METERS = [
    ("samplehc", "claim-check", "claims", "sum", ""),
    ("samplehc", "eligibility", "eligibility_checks", "count", ""),
    ("tula", "Assessment", "assessments", "sum", ""),
    ("tula", "Visit", "visits", "sum", ""),
    ("sequence", "message-sent", "characters", "sum", "characters"),
    ("sequence", "api-call", "api_calls", "count", ""),
    ("sequence", "login", "active_users", "unique_count", "user"),
    ("sequence", "storage", "storage_peak", "max", "gigabytes"),
    ("paygentic", "llm_tokens", "llm_tokens", "sum", ""),
    ("paygentic", "requests", "requests", "sum", ""),
]
UNIT_PRICES = {"claims": "0.50", "eligibility_checks": "0.25", "assessments": "12.00", "visits": "30.00",
               "characters": "0.0001", "api_calls": "0.002", "active_users": "4.00", "storage_peak": "1.50",
               "llm_tokens": "0.000015", "requests": "0.01"}
RATE_TO_USD = {"USD": 1, "EUR": 1, "GBP": 1, "JPY": 150, "BHD": 0.4}
MONTH_SECONDS = 61 * 86400  # September and October 2026
START = 1788220800  # 2026-09-01T00:00:00Z


@dataclass
class Plan:
    records: int
    customers: int = 60
    records_per_file: int = 250_000
    seed: int = 7


def write_reference(folder: Path, plan: Plan) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    customers = ["customer_id,name,currency,timezone"]
    keys = ["source,source_customer_key,customer_id"]
    for i in range(plan.customers):
        currency, tz = CURRENCIES[i % len(CURRENCIES)]
        customers.append(f"c{i:04d},Customer {i},{currency},{tz}")
        keys += [f"samplehc,org_{i},c{i:04d}", f"tula,Clinic {i},c{i:04d}",
                 f"sequence,alias-{i},c{i:04d}", f"paygentic,cus_{i},c{i:04d}"]
    meters = ["source,event_type,metric_id,aggregation,property"]
    meters += [",".join(m) for m in METERS]
    prices = ["metric_id,customer_id,currency,unit_price,effective_from,effective_to"]
    for metric, price in UNIT_PRICES.items():
        for currency in sorted({c for c, _ in CURRENCIES}):
            scaled = f"{float(price) * RATE_TO_USD[currency]:.6f}".rstrip("0").rstrip(".")
            prices.append(f"{metric},,{currency},{scaled},,2026-10-15")
            prices.append(f"{metric},,{currency},{scaled}1,2026-10-15,")
    prices.append("claims,c0000,USD,0.45,,")
    statuses = ["source,status,effect", "tula,Unknown,bill", "tula,Billable,bill", "tula,Cancelled,void"]
    for name, rows in [("customers", customers), ("customer_keys", keys), ("meters", meters),
                       ("prices", prices), ("statuses", statuses)]:
        (folder / f"{name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def generate(out: Path, plan: Plan) -> dict[str, int]:
    """Write ``plan.records`` records (a quarter per source) under ``out/raw`` and ``out/reference``."""
    write_reference(out / "reference", plan)
    counts = {}
    for n, source in enumerate(SOURCES):
        rng = random.Random(plan.seed * 100 + n)
        counts[source] = _write_source(out / "raw" / source, source, plan.records // 4, plan, rng)
    return counts


def _write_source(folder: Path, source: str, records: int, plan: Plan, rng: random.Random) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    make = LINES[source]
    files = max(1, -(-records // plan.records_per_file))
    written = 0
    for f in range(files):
        target = min(plan.records_per_file, records - written)
        suffix = ".ndjson.gz" if f % 4 == 3 else ".jsonl"
        path = folder / f"part-{f:05d}{suffix}"
        opener = (lambda p: gzip.open(p, "wt", encoding="utf-8", compresslevel=1)) if suffix.endswith(".gz") \
            else (lambda p: p.open("w", encoding="utf-8"))
        with opener(path) as handle:
            done, previous, line_in_file = 0, None, 0
            while done < target:
                t = START + (f * plan.records_per_file + done) * MONTH_SECONDS // max(records, 1)
                r = rng.random()
                room = target - done
                opening = line_in_file < len(OPENING_SHAPES)  # a file's first lines are not re-deliveries
                if r < 0.005 and previous is not None and previous[1] <= room and not opening:
                    line, n = previous
                else:
                    line, n = make(rng, t, plan, f * plan.records_per_file + done, r, room, line_in_file)
                handle.write(line + "\n")
                line_in_file += 1
                previous = (line, n)
                done += n
            written += done
    return written


def _instant(t: int, micros: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{micros:06d}Z"


def _customer(rng: random.Random, plan: Plan, r: float) -> int:
    return plan.customers + 7 if 0.998 < r < 0.999 else rng.randrange(plan.customers)


def _response(r: float) -> str:
    return '{"status": 400, "body": {"error": "bad request"}}' if 0.990 < r < 0.995 else '{"status": 200, "body": {}}'


def samplehc_line(rng, t, plan, i, r, room, line_in_file=None):
    if 0.997 < r < 0.998:
        return '{"receivedAt": "' + _instant(t, i % 10**6) + '", "account": "org_1", "body": {"eventSlug"', 1
    key = f"k{rng.randrange(i + 1)}" if r < 0.01 else f"k{t}-{i}"
    slug, quantity = ("eligibility", 1) if r > 0.8 else ("claim-check", rng.randint(0, 20))
    extra = ', "unexpected": true' if 0.996 < r < 0.997 else ""
    return ('{"receivedAt": "' + _instant(t, i % 10**6) + f'", "account": "org_{_customer(rng, plan, r)}", '
            f'"headers": {{"idempotency-key": "{key}", "authorization": "Bearer sk_live_{i}"}}, '
            f'"body": {{"eventSlug": "{slug}", "quantity": {quantity}{extra}}}, "response": {_response(r)}}}'), 1


def tula_line(rng, t, plan, i, r, room, line_in_file=None):
    guid = f"6d91f288-c380-4652-bd35-{rng.randrange(i + 1) if r < 0.01 else i:012x}"
    status = "Cancelled" if 0.995 < r < 0.997 else "Billable"
    kind, quantity = ("Visit", 1) if r > 0.7 else ("Assessment", f"{rng.randint(1, 40) / 4}")
    type_id = "3" if 0.997 < r < 0.998 else f'"{kind}"'
    at = _instant(t, 0)[:19]
    return ('{"receivedAt": "' + _instant(t, i % 10**6) + f'", "path": "/api/v1/BillingEvents/Clinic%20{_customer(rng, plan, r)}", '
            f'"body": {{"BillingEventGuid": "{guid}", "EventDateTime": "{at}", "EventTypeId": {type_id}, '
            f'"Quantity": {quantity}, "InvoiceBillingEventStatusId": "{status}", "ModifiedDateTime": "{at}.{i % 10**7:07d}"}}, '
            f'"response": {_response(r)}}}'), 1


def sequence_line(rng, t, plan, i, r, room, line_in_file=None):
    event_id = f"e{rng.randrange(i + 1) if r < 0.01 else i}"
    alias = "VOID" if 0.995 < r < 0.997 else f"alias-{_customer(rng, plan, r)}"
    pick = rng.random()
    if pick < 0.6:
        kind, props = "message-sent", f'{{"characters": {rng.randint(1, 2000)}}}'
    elif pick < 0.8:
        kind, props = "api-call", "{}"
    elif pick < 0.95:
        kind, props = "login", f'{{"user": "u{rng.randrange(500)}"}}'
    else:
        kind, props = "storage", f'{{"gigabytes": "{rng.randint(1, 5000) / 10}"}}'
    if 0.997 < r < 0.998:
        props = "[]"
    return ('{"receivedAt": "' + _instant(t, i % 10**6) + f'", "account": "acct_1", "body": {{"customerAlias": "{alias}", '
            f'"eventType": "{kind}", "customerEventId": "{event_id}", "eventTimestamp": "{_instant(t, 0)}", '
            f'"eventProperties": {props}}}, "response": {_response(r)}}}'), 1


# paygentic batch sizes: most lines carry a few events, some 100 and some 1000 (SPEC allows up to 1000),
# and a quarter of the 1000-event lines carry a few kB of metadata per event: lines of several MB.
BIG_BATCH, MEDIUM_BATCH = 1000, 100
BIG_BATCH_RATE, MEDIUM_BATCH_RATE, LARGE_METADATA_SHARE = 0.002, 0.02, 0.25
# Every paygentic file with room for them starts with one line of each shape, so that even a small
# dump holds them: a 1000-event line of several MB, a plain 1000-event line and a 100-event line.
OPENING_SHAPES = ((BIG_BATCH, True), (BIG_BATCH, False), (MEDIUM_BATCH, False))


def paygentic_line(rng, t, plan, i, r, room, line_in_file=None):
    size, padding = _paygentic_shape(rng, line_in_file, room)
    customer = _customer(rng, plan, r)
    events = []
    for j in range(size):
        key = f"p{rng.randrange(i + 1)}-0" if r < 0.01 and j == 0 else f"p{i}-{j}"
        quantity = '"12"' if (0.996 < r < 0.997 and j == 0) else str(rng.randint(10, 50_000))
        metadata = f', "metadata": {{"note": "{"x" * padding}", "j": {j}}}' if padding else ""
        events.append(f'{{"idempotencyKey": "{key}", "customerId": "cus_{customer}", "merchantId": "m_1", '
                      f'"timestamp": "{_instant(t, 0)}", "properties": [{{"billableMetricId": "llm_tokens", '
                      f'"quantity": {quantity}}}, {{"billableMetricId": "requests", "quantity": 1}}]{metadata}}}')
    failed = '[{"index": 0}]' if 0.993 < r < 0.995 else "[]"
    status = 400 if 0.990 < r < 0.993 else 207
    return ('{"receivedAt": "' + _instant(t, i % 10**6) + f'", "body": {{"events": [{", ".join(events)}]}}, '
            f'"response": {{"status": {status}, "body": {{"failed": {failed}}}}}}}'), size


def _paygentic_shape(rng, line_in_file, room) -> tuple[int, int]:
    """(events in the batch, characters of metadata per event) for the next paygentic line."""
    if line_in_file is not None and line_in_file < len(OPENING_SHAPES):
        size, large = OPENING_SHAPES[line_in_file]
        if size <= room:
            return size, rng.randint(2000, 4000) if large else 0
    pick = rng.random()
    if pick < BIG_BATCH_RATE and room >= BIG_BATCH:
        return BIG_BATCH, rng.randint(2000, 4000) if rng.random() < LARGE_METADATA_SHARE else 0
    if pick < BIG_BATCH_RATE + MEDIUM_BATCH_RATE and room >= MEDIUM_BATCH:
        return MEDIUM_BATCH, 0
    return min(rng.randint(1, 5), room), 0


LINES = {"samplehc": samplehc_line, "tula": tula_line, "sequence": sequence_line, "paygentic": paygentic_line}

