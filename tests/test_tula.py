"""SPEC §2 tula: property names, GUIDs, types, date-times, versions, statuses and event prices."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from harness import envelope, run, write_dump, write_reference

FILE = "tula/a.jsonl"
B, SUP, VOID, U = ("billed", None), ("superseded", None), ("voided", None), ("unmetered", None)
SV, IV = ("quarantined", "schema_violation"), ("quarantined", "invalid_value")
UNKNOWN_STATUS = ("quarantined", "unknown_status")


def guid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-00000000abcd"


def at(i: int, day: int = 6) -> str:
    """A distinct receivedAt per line, so that no two lines are re-deliveries of each other."""
    return f"2026-10-{day:02d}T12:{i // 60:02d}:{i % 60:02d}Z"


def body(n: int, quantity=1, **fields) -> dict:
    return {"billingEventGuid": guid(n), "eventDateTime": "2026-10-03T10:00:00Z", "eventTypeId": "Visit",
            "quantity": quantity, **fields}


def tula(body, received_at: str, client: str = "clinic-ny", **fields) -> dict:
    return envelope(body, received_at, path=f"/api/v1/BillingEvents/{client}", **fields)


def raw_line(body_text: str, received_at: str, client: str = "clinic-ny") -> str:
    """An envelope around a body given as JSON text (to spell a property twice)."""
    return (f'{{"receivedAt": "{received_at}", "path": "/api/v1/BillingEvents/{client}", '
            f'"body": {body_text}}}')


def by_line(r, file: str = FILE) -> list[tuple[str, str | None]]:
    return [v for k, v in sorted(r.outcomes().items()) if k[0] == file]


def totals(r) -> dict[tuple[str, str], Decimal]:
    rows = r.con.sql("SELECT customer_id, period_start, total FROM invoices").fetchall()
    result = {(c, str(p)): t for c, p, t in rows}
    assert len(result) == len(rows), rows
    return result


def lines(r) -> dict[tuple[str, str, Decimal], tuple]:
    """(customer, metric, unit_price) -> (quantity, amount, event_count), for October."""
    rows = r.con.sql(
        "SELECT customer_id, metric_id, unit_price, quantity, amount, event_count FROM invoice_lines "
        "WHERE period_start = DATE '2026-10-01'").fetchall()
    result = {(c, m, u): (q, a, n) for c, m, u, q, a, n in rows}
    assert len(result) == len(rows), rows
    return result


def test_property_names_are_case_insensitive_and_the_last_spelling_wins(tmp_path):
    g = guid
    text = [
        # 1 PascalCase, as the vendor's page spells them
        json.dumps({"BillingEventGuid": g(1), "EventDateTime": "2026-10-03T10:00:00Z", "EventTypeId": "Visit",
                    "Quantity": 1, "MemberUniqueKey": "m-1", "InvoiceBillingEventStatusId": "Billable"}),
        # 2 camelCase, as its JSON sample spells them
        json.dumps(body(2, 2, memberUniqueKey="m-2")),
        # 3 any other case
        json.dumps({"BILLINGEVENTGUID": g(3), "eventdatetime": "2026-10-03T10:00:00Z", "EventTypeID": "Visit",
                    "qUaNtItY": 4}),
        # 4 spelled twice in two cases: the last wins
        f'{{"billingEventGuid": "{g(4)}", "eventDateTime": "2026-10-03T10:00:00Z", "eventTypeId": "Visit", '
        f'"quantity": 100, "Quantity": 8}}',
        # 5 spelled twice the same way: the last wins
        f'{{"billingEventGuid": "{g(5)}", "eventDateTime": "2026-10-03T10:00:00Z", "eventTypeId": "Visit", '
        f'"quantity": 200, "quantity": 16}}',
        # 6 valid first, invalid last: the last is the value
        f'{{"billingEventGuid": "{g(6)}", "eventDateTime": "2026-10-03T10:00:00Z", "eventTypeId": "Visit", '
        f'"quantity": 1, "QUANTITY": "1"}}',
        # 7 invalid first, valid last
        f'{{"billingEventGuid": "{g(7)}", "eventDateTime": "2026-10-03T10:00:00Z", "eventTypeId": "Visit", '
        f'"Quantity": "x", "quantity": 32}}',
        # 8 the GUID twice: the last one is the event's
        f'{{"billingEventGuid": "{g(999)}", "BillingEventGuid": "{g(8)}", "eventDateTime": "2026-10-03T10:00:00Z", '
        f'"eventTypeId": "Visit", "quantity": 64}}',
        # 9 unknown properties, and call metadata of any type, are allowed
        json.dumps(body(9, 128, executionTime="slow", TxID=17, extra={"a": [1]}, Notes=None)),
        # 10 Price in PascalCase is the event's unit price
        json.dumps({"billingEventGuid": g(10), "eventDateTime": "2026-10-03T10:00:00Z", "eventTypeId": "Visit",
                    "Quantity": 1, "PRICE": 7}),
        # 11 the version of g(8) that the first spelling names is another event
        json.dumps(body(999, 1000, modifiedDateTime="2026-10-01T00:00:00Z")),
    ]
    write_dump(tmp_path / "raw", FILE, [raw_line(t, at(i)) for i, t in enumerate(text)])

    r = run(tmp_path)

    assert by_line(r) == [B, B, B, B, B, SV, B, B, B, B, B]
    # visits at the book's 10 USD: 1 + 2 + 4 + 8 + 16 + 32 + 64 + 128 + 1000 = 1255; one at the event's 7
    assert lines(r) == {
        ("c_ny", "visits", Decimal(10)): (Decimal(1255), Decimal("12550.00"), 9),
        ("c_ny", "visits", Decimal(7)): (Decimal(1), Decimal("7.00"), 1),
    }
    members = dict(r.con.sql("SELECT line_number, member FROM usage_events WHERE line_number <= 2").fetchall())
    assert members == {1: "m-1", 2: "m-2"}


def test_billing_event_guid_format(tmp_path):
    valid = "6d91f288-c380-4652-bd35-ce286ac4c806"
    cases = [
        (valid, B),
        ("A6C67225-C705-41E0-94E7-40D242FD8F72", B),
        ("{6d91f288-c380-4652-bd35-ce286ac4c807}", SV),
        ("6d91f288c3804652bd35ce286ac4c808", SV),
        ("6d91f288-c380-4652-bd35-ce286ac4c8g9", SV),
        ("6d91f288-c380-4652-bd35-ce286ac4c80", SV),
        ("6d91f288-c380-4652-bd35-ce286ac4c8091", SV),
        (" 6d91f288-c380-4652-bd35-ce286ac4c80a", SV),
        ("not-a-guid", SV),
        ("", SV),
        (7, SV),
        (None, SV),
    ]
    records = []
    for i, (value, _) in enumerate(cases):
        b = body(0, 1 << i)
        b["billingEventGuid"] = value
        records.append(tula(b, at(i)))
    missing = body(0, 1)
    del missing["billingEventGuid"]
    records.append(tula(missing, at(50)))
    write_dump(tmp_path / "raw", FILE, records)

    r = run(tmp_path)

    assert by_line(r) == [expected for _, expected in cases] + [SV]
    assert totals(r) == {("c_ny", "2026-10-01"): Decimal("30.00")}  # (1 + 2) × 10


def test_guids_compare_case_insensitively(tmp_path):
    lower = "6d91f288-c380-4652-bd35-ce286ac4c806"
    write_dump(tmp_path / "raw", FILE, [
        tula(body(0, 1, billingEventGuid=lower, modifiedDateTime="2026-10-05T00:00:00Z"), at(1)),
        tula(body(0, 2, billingEventGuid=lower.upper(), modifiedDateTime="2026-10-06T00:00:00Z"), at(2)),
        tula(body(0, 4, billingEventGuid="6D91f288-C380-4652-bd35-CE286ac4c806",
                  modifiedDateTime="2026-10-04T00:00:00Z"), at(3)),
    ])

    r = run(tmp_path)

    assert by_line(r) == [SUP, B, SUP]
    assert totals(r) == {("c_ny", "2026-10-01"): Decimal("20.00")}


def test_types_and_values(tmp_path):
    cases = [
        (body(1, eventTypeId=1), SV),                          # an enum as a number
        (body(2, eventTypeId=None), SV),
        (body(3, invoiceBillingEventStatusId=0), SV),
        (body(4, invoiceBillingEventStatusId=2), SV),
        (body(5, invoiceBillingEventStatusId=None), SV),       # null is not absent
        (body(6, quantity="5"), SV),
        (body(7, quantity=True), SV),
        (body(8, quantity=None), SV),
        (body(9, quantity=[1]), SV),
        (body(10, price="7"), SV),
        (body(11, price=None), SV),
        (body(12, memberUniqueKey=5), SV),
        (body(13, quantity=-1), IV),
        (body(14, quantity=-0.5), IV),
        (body(15, price=-0.01), IV),
        (body(16, quantity=-1, price=-1), IV),
        (body(17, quantity=2.5), B),                          # decimals are fine
        (body(18, quantity=3, price=0), B),                   # a price of 0 is a price
        (body(19, quantity=0), B),
        (body(20, quantity=1, price=2.5), B),
        ({k: v for k, v in body(21).items() if k != "quantity"}, SV),
        ({k: v for k, v in body(22).items() if k != "eventTypeId"}, SV),
        ({k: v for k, v in body(23).items() if k != "eventDateTime"}, SV),
    ]
    write_dump(tmp_path / "raw", FILE, [tula(b, at(i)) for i, (b, _) in enumerate(cases)])

    r = run(tmp_path)

    assert by_line(r) == [expected for _, expected in cases]
    assert lines(r) == {
        ("c_ny", "visits", Decimal(10)): (Decimal("2.5"), Decimal("25.00"), 2),
        ("c_ny", "visits", Decimal(0)): (Decimal(3), Decimal("0.00"), 1),
        ("c_ny", "visits", Decimal("2.5")): (Decimal(1), Decimal("2.50"), 1),
    }


def test_date_times(tmp_path):
    cases = [
        ("2026-10-03T10:00:00.1234567+00:00", B),      # the vendor's own 7 digits
        ("2026-10-03T10:00:00.1234567", B),            # no offset: UTC
        ("2026-10-03t10:00:00z", B),
        ("2026-10-03T10:00:00.12345678Z", SV),         # 8 digits
        ("2026-10-03T10:00:00.12345678", SV),
        ("2026-10-03", SV),                            # a date is not a date-time
        ("2026-10-03T10:00", SV),
        ("10/03/2026 10:00:00", SV),
        ("2026-10-32T10:00:00", SV),
        (1790000000, SV),
        (None, SV),
    ]
    records = [tula(body(i, 1 << i, eventDateTime=t), at(i)) for i, (t, _) in enumerate(cases)]
    records += [
        tula(body(40, 1 << 20, modifiedDateTime="yesterday"), at(40)),
        tula(body(41, 1 << 21, modifiedDateTime="2026-10-03T10:00:00.12345678Z"), at(41)),
        tula(body(42, 1 << 22, modifiedDateTime=None), at(42)),
        tula(body(43, 8, modifiedDateTime="2026-10-03T10:00:00.1234567"), at(43)),
    ]
    write_dump(tmp_path / "raw", FILE, records)

    r = run(tmp_path)

    assert by_line(r) == [expected for _, expected in cases] + [SV, SV, SV, B]
    assert totals(r) == {("c_ny", "2026-10-01"): Decimal("150.00")}  # (1 + 2 + 4 + 8) × 10


def test_date_time_without_offset_is_utc(tmp_path):
    write_dump(tmp_path / "raw", FILE, [
        tula(body(1, 1, eventDateTime="2026-11-01T02:00:00"), at(1)),              # NY: Oct 31, 22:00
        tula(body(2, 2, eventDateTime="2026-11-01T02:00:00+00:00"), at(2)),        # the same instant
        tula(body(3, 4, eventDateTime="2026-11-01T02:00:00-05:00"), at(3)),        # NY: Nov 1, 02:00
        tula(body(4, 8, eventDateTime="2026-10-31T20:00:00"), at(4), client="clinic-jpy"),  # Tokyo: Nov 1
    ])

    r = run(tmp_path)

    assert by_line(r) == [B, B, B, B]
    assert totals(r) == {
        ("c_ny", "2026-10-01"): Decimal("30.00"),
        ("c_ny", "2026-11-01"): Decimal("40.00"),
        ("c_jpy", "2026-11-01"): Decimal("12000"),      # 8 × 1500
    }
    occurred = dict(r.con.sql("SELECT line_number, occurred_at FROM usage_events").fetchall())
    assert occurred[1] == datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
    assert occurred[4] == datetime(2026, 10, 31, 20, 0, tzinfo=timezone.utc)


def test_versions_greatest_modified_wins_across_files(tmp_path):
    raw = tmp_path / "raw"
    m = "modifiedDateTime"
    write_dump(raw, "tula/v1.jsonl", [
        tula(body(1, 1, **{m: "2026-10-05T10:00:00Z"}), "2026-10-06T00:00:00Z"),               # A wins
        tula(body(2, 2, **{m: "2026-10-05T12:00:00Z"}), "2026-10-06T00:00:01Z"),               # B
        tula(body(2, 4), "2026-10-05T13:00:00Z"),                                             # B wins: its receivedAt
        tula(body(3, 8, **{m: "2026-10-05T00:00:00Z"}), "2026-10-06T00:00:00Z"),               # C tie
        tula(body(4, 16, **{m: "2026-10-05T10:00:00+05:00"}), "2026-10-06T00:00:02Z"),         # D: 05:00Z
        tula(body(5, 32), "2026-10-06T00:00:03Z"),                                            # E clinic-ny
        tula(body(6, 64, **{m: "2026-10-05T00:00:00Z"}), "2026-10-06T00:00:04Z"),              # F wins
        tula(body(7, 128, **{m: "2026-10-05T00:00:00Z"}), "2026-10-06T00:00:05Z"),             # G wins
        tula(body(8, 256, **{m: "2026-10-05T00:00:00Z"}), "2026-10-06T00:00:06Z"),             # H tie, same file
        tula(body(8, 512, **{m: "2026-10-05T00:00:00Z"}), "2026-10-06T00:00:06Z"),             # H wins: later line
    ])
    write_dump(raw, "tula/v2.jsonl", [
        tula(body(1, 1024, **{m: "2026-10-04T10:00:00Z"}), "2026-10-07T00:00:00Z"),            # A: older
        tula(body(3, 2048, **{m: "2026-10-05T02:00:00+02:00"}), "2026-10-06T00:00:00Z"),       # C wins: later path
        tula(body(4, 4096, **{m: "2026-10-05T06:00:00Z"}), "2026-10-06T00:00:00Z"),            # D wins
        tula(body(5, 8192), "2026-10-06T00:00:07Z", client="Clinic%20USD"),                   # E another client
        tula(body(6, "bad", **{m: "2026-10-06T00:00:00Z"}), "2026-10-07T00:00:01Z"),          # F
        tula(body(7, 1, **{m: "2026-10-06T00:00:00Z"}), "2026-10-07T00:00:02Z",
             response={"status": 500, "body": {}}),                                           # G
    ])

    r = run(tmp_path)

    assert by_line(r, "tula/v1.jsonl") == [B, SUP, B, SUP, SUP, B, B, B, SUP, B]
    assert by_line(r, "tula/v2.jsonl") == [SUP, B, B, B, SV, ("rejected_by_vendor", None)]
    # c_ny: 1 + 4 + 2048 + 4096 + 32 + 64 + 128 + 512 = 6885 visits; c_usd: 8192
    assert totals(r) == {("c_ny", "2026-10-01"): Decimal("68850.00"), ("c_usd", "2026-10-01"): Decimal("81920.00")}


def test_versions_split_across_runs(tmp_path):
    raw = tmp_path / "raw"
    write_dump(raw, "tula/b.jsonl", [tula(body(1, 1, modifiedDateTime="2026-10-04T00:00:00Z"), at(1))])
    first = run(tmp_path)
    assert first.outcomes() == {("tula/b.jsonl", 1, 0): B}
    first.con.close()

    write_dump(raw, "tula/a.jsonl", [tula(body(1, 2, modifiedDateTime="2026-10-05T00:00:00Z"), at(0))])
    second = run(tmp_path)

    assert second.outcomes() == {("tula/a.jsonl", 1, 0): B, ("tula/b.jsonl", 1, 0): SUP}
    assert totals(second) == {("c_ny", "2026-10-01"): Decimal("20.00")}


def test_modified_date_time_compares_all_seven_fractional_digits(tmp_path):
    """Two versions 100 ns apart: the greater one wins, though it comes first in order."""
    write_dump(tmp_path / "raw", FILE, [
        tula(body(1, 1, modifiedDateTime="2026-10-05T10:00:00.0000002"), at(1)),
        tula(body(1, 2, modifiedDateTime="2026-10-05T10:00:00.0000001"), at(2)),
    ])

    r = run(tmp_path)

    assert by_line(r) == [B, SUP]
    assert totals(r) == {("c_ny", "2026-10-01"): Decimal("10.00")}


def test_missing_modified_counts_as_received_at_with_all_its_digits(tmp_path):
    """Without modifiedDateTime the version is its receivedAt, compared to the last fractional digit."""
    write_dump(tmp_path / "raw", "tula/a.jsonl", [tula(body(1, 1), "2026-10-06T12:00:00.0000002Z")])
    write_dump(tmp_path / "raw", "tula/b.jsonl", [tula(body(1, 2), "2026-10-06T12:00:00.00000015Z")])
    write_dump(tmp_path / "raw", "tula/c.jsonl", [tula(body(1, 4), "2026-10-06T12:00:00.000000100Z")])

    r = run(tmp_path)

    assert r.outcomes() == {("tula/a.jsonl", 1, 0): B, ("tula/b.jsonl", 1, 0): SUP, ("tula/c.jsonl", 1, 0): SUP}
    assert totals(r) == {("c_ny", "2026-10-01"): Decimal("10.00")}


def test_status_of_the_winning_version(tmp_path):
    m, s = "modifiedDateTime", "invoiceBillingEventStatusId"
    v5, v6 = {m: "2026-10-05T00:00:00Z"}, {m: "2026-10-06T00:00:00Z"}
    write_dump(tmp_path / "raw", FILE, [
        tula(body(1, 1, **{s: "Cancelled"}), at(1)),                      # 1 voided
        tula(body(2, 2, **{s: "Billable"}, **v5), at(2)),                 # 2 superseded
        tula(body(2, 4, **{s: "Cancelled"}, **v6), at(3)),                # 3 voided
        tula(body(3, 8, **{s: "Cancelled"}, **v5), at(4)),                # 4 superseded
        tula(body(3, 16, **{s: "Billable"}, **v6), at(5)),                # 5 billed
        tula(body(4, 32, **{s: "Pending"}), at(6)),                       # 6 not declared
        tula(body(5, 64, **{s: "Billable"}, **v5), at(7)),                # 7 superseded
        tula(body(5, 128, **{s: "Pending"}, **v6), at(8)),                # 8 not declared
        tula(body(6, 256, **{s: "cancelled"}), at(9)),                    # 9 names are case-sensitive
        tula(body(7, 512, **{s: "BILLABLE"}), at(10)),                    # 10
        tula(body(8, 1024), at(11)),                                      # 11 missing: Unknown, bill
        tula(body(9, 2048, **{s: "Unknown"}), at(12)),                    # 12
        tula(body(10, 4096, **{s: "Cancelled"}, **v6), at(13)),           # 13 voided wins
        tula(body(10, 8192, **{s: "Pending"}, **v5), at(14)),             # 14 a loser's status is moot
        tula(body(11, 1, **{s: "Cancelled"}), at(15), client="nobody"),   # 15 status before customer
        tula(body(12, 1, **{s: "Pending"}), at(16), client="nobody"),     # 16
        tula(body(13, 1, eventTypeId="Unknown", **{s: "Cancelled"}), at(17)),  # 17 status before meter
        tula(body(14, 1, eventTypeId="Unknown"), at(18)),                 # 18 no meter
    ])

    r = run(tmp_path)

    assert by_line(r) == [VOID, SUP, VOID, SUP, B, UNKNOWN_STATUS, SUP, UNKNOWN_STATUS, UNKNOWN_STATUS,
                          UNKNOWN_STATUS, B, B, VOID, SUP, VOID, UNKNOWN_STATUS, VOID, U]
    assert totals(r) == {("c_ny", "2026-10-01"): Decimal("30880.00")}  # (16 + 1024 + 2048) × 10
    counts = r.con.sql("SELECT records, billed, superseded, voided, unmetered, quarantined "
                       "FROM reconciliation WHERE source = 'tula'").fetchall()
    assert counts == [(18, 3, 4, 5, 1, 5)]


def test_missing_status_is_unknown_and_needs_a_declaration(tmp_path):
    statuses = "source,status,effect\ntula,Billable,bill\ntula,Cancelled,void\n"
    reference = write_reference(tmp_path / "ref", overrides={"statuses.csv": statuses})
    write_dump(tmp_path / "raw", FILE, [
        tula(body(1, 1), at(1)),
        tula(body(2, 2, invoiceBillingEventStatusId="Unknown"), at(2)),
        tula(body(3, 4, invoiceBillingEventStatusId="Billable"), at(3)),
    ])

    r = run(tmp_path, reference_dir=reference)

    assert by_line(r) == [UNKNOWN_STATUS, UNKNOWN_STATUS, B]
    assert totals(r) == {("c_ny", "2026-10-01"): Decimal("40.00")}


def test_event_price_wins_and_amounts_round_half_even(tmp_path):
    raw_lines = [
        # (body text, client)
        ('"quantity": 6, "price": 7', "Clinic%20USD"),              # 42.00, event
        ('"quantity": 1', "Clinic%20USD"),                          # 10.00, price book
        ('"quantity": 1.015, "price": 1', "Clinic%20USD"),          # 1.015 -> 1.02 (a float would give 1.01)
        ('"quantity": 0.5, "price": 0.05', "Clinic%20USD"),         # 0.025 -> 0.02
        ('"quantity": 0.5, "price": 0.07', "Clinic%20USD"),         # 0.035 -> 0.04
        ('"quantity": 1.0025, "price": 2', "Clinic%20USD"),         # 2.005 -> 2.00
        ('"quantity": 5, "price": 0', "Clinic%20USD"),              # 0.00
        ('"quantity": 3, "price": 0.333333333333333', "Clinic%20USD"),  # 0.999999999999999 -> 1.00
        ('"quantity": 2.5, "price": 1', "clinic-jpy"),              # 2.5 JPY -> 2
        ('"quantity": 1, "price": 3.5', "clinic-jpy"),              # 3.5 JPY -> 4
        ('"quantity": 1', "clinic-jpy"),                            # 1500, price book
        ('"quantity": 123456789.012345, "price": 0.01', "clinic-ny"),  # 1234567.89012345 -> 1234567.89
        ('"quantity": 2, "price": 1.5e1', "clinic-ny"),             # 30.00
        ('"quantity": 1, "price": 7.0', "clinic-ny"),               # 7.00
        ('"quantity": 1, "price": 7', "clinic-ny"),                 # the same unit price: one line of 14.00
    ]
    text = [
        raw_line(f'{{"billingEventGuid": "{guid(i)}", "eventDateTime": "2026-10-03T10:00:00Z", '
                 f'"eventTypeId": "Visit", {fields}}}', at(i), client)
        for i, (fields, client) in enumerate(raw_lines)
    ]
    write_dump(tmp_path / "raw", FILE, text)

    r = run(tmp_path)

    assert by_line(r) == [B] * len(raw_lines)
    sources = [s for _, s in sorted(r.con.sql("SELECT line_number, price_source FROM usage_events").fetchall())]
    assert sources == ["event", "price_book"] + ["event"] * 8 + ["price_book"] + ["event"] * 4
    D = Decimal
    assert lines(r) == {
        ("c_usd", "visits", D(7)): (D(6), D("42.00"), 1),
        ("c_usd", "visits", D(10)): (D(1), D("10.00"), 1),
        ("c_usd", "visits", D(1)): (D("1.015"), D("1.02"), 1),
        ("c_usd", "visits", D("0.05")): (D("0.5"), D("0.02"), 1),
        ("c_usd", "visits", D("0.07")): (D("0.5"), D("0.04"), 1),
        ("c_usd", "visits", D(2)): (D("1.0025"), D("2.00"), 1),
        ("c_usd", "visits", D(0)): (D(5), D("0.00"), 1),
        ("c_usd", "visits", D("0.333333333333333")): (D(3), D("1.00"), 1),
        ("c_jpy", "visits", D(1)): (D("2.5"), D(2), 1),
        ("c_jpy", "visits", D("3.5")): (D(1), D(4), 1),
        ("c_jpy", "visits", D(1500)): (D(1), D(1500), 1),
        ("c_ny", "visits", D("0.01")): (D("123456789.012345"), D("1234567.89"), 1),
        ("c_ny", "visits", D(15)): (D(2), D("30.00"), 1),
        ("c_ny", "visits", D(7)): (D(2), D("14.00"), 2),
    }
    assert totals(r) == {
        ("c_usd", "2026-10-01"): D("56.08"),
        ("c_jpy", "2026-10-01"): D("1506"),
        ("c_ny", "2026-10-01"): D("1234611.89"),
    }


def test_a_client_name_that_is_not_percent_encoded_utf8_is_quarantined_alone(tmp_path):
    """A path whose clientName does not decode to UTF-8 is an invalid envelope; its neighbours bill."""
    write_dump(tmp_path / "raw", FILE, [
        tula(body(1), at(1), client="%A9"),
        tula(body(2), at(2), client="clinic%2Dny"),
    ])
    r = run(tmp_path)
    assert by_line(r) == [("quarantined", "invalid_envelope"), ("billed", None)]
