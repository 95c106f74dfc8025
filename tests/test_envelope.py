"""SPEC §2 steps 1–2 and 5–6, shared by every source: parse, envelope, vendor rejection, re-delivery, order."""

from __future__ import annotations

from decimal import Decimal

from harness import envelope, run, write_dump

T = "2026-10-03T12:00:00Z"
GUID = "6d91f288-c380-4652-bd35-ce286ac4c806"
VALID_BODY = '{"eventSlug": "claim-check", "quantity": 1}'


def claim(quantity, received_at: str = T, account: str = "org_usd", **fields) -> dict:
    return envelope({"eventSlug": "claim-check", "quantity": quantity}, received_at, account=account, **fields)


def visit(guid: str = GUID, client: str = "clinic-ny", received_at: str = T, **fields) -> dict:
    body = {"billingEventGuid": guid, "eventDateTime": "2026-10-03T10:00:00Z", "eventTypeId": "Visit", "quantity": 1}
    return envelope(body, received_at, path=f"/api/v1/BillingEvents/{client}", **fields)


def totals(r) -> dict[tuple[str, str], Decimal]:
    return {(c, str(p)): t for c, p, t in r.con.sql(
        "SELECT customer_id, period_start, total FROM invoices").fetchall()}


def outcomes_of(r, file: str) -> list[tuple[str, str | None]]:
    """Outcomes of a file's records by line number."""
    return [v for k, v in sorted(r.outcomes().items()) if k[0] == file]


def test_lines_that_are_not_strict_json_objects_are_invalid_json(tmp_path):
    head = '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", '
    lines = [
        "not json at all",
        '[{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": ' + VALID_BODY + "}]",
        '"a string"',
        "42",
        "null",
        "true",
        head + '"body": {"eventSlug": "claim-check", "quantity": 1,}}',          # trailing comma
        head + '"body": {"eventSlug": "claim-check", "quantity": 1}, }',         # trailing comma
        head + '"body": {"eventSlug": "claim-check", "quantity": 1, "metadata": {"l": [1, 2,]}}}',
        head + '"body": {"eventSlug": "claim-check", "quantity": NaN}}',
        head + '"body": {"eventSlug": "claim-check", "quantity": Infinity}}',
        head + '"body": {"eventSlug": "claim-check", "quantity": -Infinity}}',
        head + '"body": {"eventSlug": "claim-check", "quantity": nan}}',
        head + '"body": {"eventSlug": "claim-check", "quantity": inf}}',
        head + "'body': {}}",
        head + '"body": ' + VALID_BODY + "}" + '{"x": 1}',                      # two values on one line
        head + '"body": {"eventSlug": "claim-check", "quantity": 01}}',          # leading zero
        head + '"body": ' + VALID_BODY,                                           # truncated
    ]
    write_dump(tmp_path / "raw", "samplehc/bad.jsonl", lines + [claim(5)])

    r = run(tmp_path)

    assert outcomes_of(r, "samplehc/bad.jsonl") == [("quarantined", "invalid_json")] * len(lines) + [("billed", None)]
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("2.50")}


def test_a_line_shaped_like_an_object_that_is_not_json_is_judged_alone_in_its_batch(tmp_path):
    """Lines that start with { and end with } are taken for JSON until the model meets one that is not;
    a batch whose only bad lines are such (no truncated line to find as the batch is read) is judged
    again line by line, and its good lines are billed once."""
    head = '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", '
    bad = [head + "'body': {}}", head + '"body": {"eventSlug": "claim-check", "quantity": 01}}']
    write_dump(tmp_path / "raw", "samplehc/shaped.jsonl", [claim(1), *bad, claim(2, "2026-10-03T12:00:02Z")])

    r = run(tmp_path)

    assert outcomes_of(r, "samplehc/shaped.jsonl") == [
        ("billed", None), ("quarantined", "invalid_json"), ("quarantined", "invalid_json"), ("billed", None)]
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("1.50")}


def test_received_at_must_be_an_rfc3339_instant(tmp_path):
    invalid = [
        None,                              # missing
        "2026-10-03",                      # a date
        "2026-10-03T12:00Z",               # no seconds
        "2026-10-03T12:00:00",             # no offset
        "2026-10-03 12:00:00Z",            # no T
        "2026-10-03T12:00:00+0200",        # offset without colon
        "2026-10-03T12:00:00.Z",           # a point without digits
        "2026-02-30T12:00:00Z",            # no such day
        "2026-10-03T24:00:00Z",
        "Sat, 03 Oct 2026 12:00:00 GMT",
        1790000000,                        # not a string
    ]
    lines = []
    for i, value in enumerate(invalid):
        record = {"account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 100 + i}}
        if value is not None:
            record["receivedAt"] = value
        lines.append(record)
    valid = [
        ("2026-10-03t12:00:00z", 1),
        ("2026-10-03T12:00:00.1Z", 2),
        ("2026-10-03T12:00:00.123456789012345Z", 4),
        ("2026-10-03T14:00:00+02:00", 8),
        ("2026-10-03T08:30:00.5-03:30", 16),
        ("2026-11-01T01:30:00+02:00", 32),             # 2026-10-31T23:30Z: October in UTC
        ("2026-10-31T23:59:59.99999999999Z", 64),      # still October
    ]
    lines += [claim(q, t) for t, q in valid]
    lines.append({"receivedAt": None, "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 1}})
    write_dump(tmp_path / "raw", "samplehc/times.jsonl", lines)

    r = run(tmp_path)

    expected = ([("quarantined", "invalid_envelope")] * len(invalid) + [("billed", None)] * len(valid)
                + [("quarantined", "invalid_envelope")])
    assert outcomes_of(r, "samplehc/times.jsonl") == expected
    # all in October (UTC): 31 claims before the 15th at 0.50, 96 on the 31st at 0.55
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("68.30")}


def test_body_must_be_an_object(tmp_path):
    lines = [
        {"receivedAt": T, "account": "org_usd"},
        {"receivedAt": T, "account": "org_usd", "body": None},
        {"receivedAt": T, "account": "org_usd", "body": [{"eventSlug": "claim-check", "quantity": 1}]},
        {"receivedAt": T, "account": "org_usd", "body": '{"eventSlug": "claim-check", "quantity": 1}'},
        {"receivedAt": T, "account": "org_usd", "body": 3},
        {"receivedAt": T, "path": "/api/v1/BillingEvents/clinic-ny"},
    ]
    write_dump(tmp_path / "raw", "samplehc/body.jsonl", lines[:5])
    write_dump(tmp_path / "raw", "tula/body.jsonl", lines[5:] + [
        {"receivedAt": T, "path": "/api/v1/BillingEvents/clinic-ny", "body": [visit()["body"]]}])

    r = run(tmp_path)

    assert r.outcomes() == {
        **{("samplehc/body.jsonl", n, 0): ("quarantined", "invalid_envelope") for n in range(1, 6)},
        ("tula/body.jsonl", 1, 0): ("quarantined", "invalid_envelope"),
        ("tula/body.jsonl", 2, 0): ("quarantined", "invalid_envelope"),
    }
    assert totals(r) == {}


def test_samplehc_needs_an_account(tmp_path):
    body = {"eventSlug": "claim-check", "quantity": 1}
    write_dump(tmp_path / "raw", "samplehc/acct.jsonl", [
        envelope(body, "2026-10-03T12:00:01Z"),
        envelope(body, "2026-10-03T12:00:02Z", account=None),
        envelope(body, "2026-10-03T12:00:03Z", account="org_usd"),
    ])

    r = run(tmp_path)

    assert outcomes_of(r, "samplehc/acct.jsonl") == [
        ("quarantined", "invalid_envelope"), ("quarantined", "invalid_envelope"), ("billed", None)]
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("0.50")}


def test_tula_path_rules(tmp_path):
    paths = [
        ("/api/v1/BillingEvents/Clinic%20USD", ("billed", None)),
        ("/api/v1/BillingEvents/clinic-ny?source=portal&x=1", ("billed", None)),
        ("/api/v1/BillingEvents/clinic-jpy?", ("billed", None)),
        ("/api/v1/BillingEvents/clinic%2Dny", ("billed", None)),           # %2D is '-'
        ("/api/v1/BillingEvents/Clinic+USD", ("quarantined", "unknown_customer")),  # '+' is a plus in a path
        ("/api/v1/BillingEvents/clinic-NY", ("quarantined", "unknown_customer")),
        ("/api/v1/billingevents/clinic-ny", ("quarantined", "invalid_envelope")),
        ("/API/V1/BillingEvents/clinic-ny", ("quarantined", "invalid_envelope")),
        ("/api/v1/BillingEvents/", ("quarantined", "invalid_envelope")),
        ("/api/v1/BillingEvents", ("quarantined", "invalid_envelope")),
        ("/api/v1/BillingEvents/clinic-ny/", ("quarantined", "invalid_envelope")),
        ("/api/v1/BillingEvents/clinic-ny/extra", ("quarantined", "invalid_envelope")),
        ("/api/v1/BillingEvents//clinic-ny", ("quarantined", "invalid_envelope")),
        ("/api/v1/BillingEvents/?clinic-ny", ("quarantined", "invalid_envelope")),
        ("api/v1/BillingEvents/clinic-ny", ("quarantined", "invalid_envelope")),
        ("https://tula.example/api/v1/BillingEvents/clinic-ny", ("quarantined", "invalid_envelope")),
        ("/api/v2/BillingEvents/clinic-ny", ("quarantined", "invalid_envelope")),
        (" /api/v1/BillingEvents/clinic-ny", ("quarantined", "invalid_envelope")),
        (None, ("quarantined", "invalid_envelope")),                       # path: null
        (17, ("quarantined", "invalid_envelope")),
    ]
    lines = []
    for i, (path, _) in enumerate(paths):
        record = visit(guid=f"00000000-0000-0000-0000-{i:012d}", received_at=f"2026-10-03T12:00:{i:02d}Z")
        record["path"] = path
        lines.append(record)
    missing = visit(guid="00000000-0000-0000-0000-000000000099")
    del missing["path"]
    lines.append(missing)
    write_dump(tmp_path / "raw", "tula/paths.jsonl", lines)

    r = run(tmp_path)

    assert outcomes_of(r, "tula/paths.jsonl") == [o for _, o in paths] + [("quarantined", "invalid_envelope")]
    customers = dict(r.con.sql(
        "SELECT line_number, customer_id FROM usage_events WHERE outcome = 'billed'").fetchall())
    assert customers == {1: "c_usd", 2: "c_ny", 3: "c_jpy", 4: "c_ny"}
    # one visit each at 10 USD (default), two for c_ny, 1500 JPY
    assert totals(r) == {
        ("c_usd", "2026-10-01"): Decimal("10.00"),
        ("c_ny", "2026-10-01"): Decimal("20.00"),
        ("c_jpy", "2026-10-01"): Decimal("1500"),
    }


def test_vendor_rejection_by_response_status(tmp_path):
    def resp(status):
        return {"status": status, "body": {}}

    write_dump(tmp_path / "raw", "samplehc/resp.jsonl", [
        claim(1, "2026-10-03T12:00:01Z", response=resp(400)),
        claim(2, "2026-10-03T12:00:02Z", response=resp(500)),
        claim(4, "2026-10-03T12:00:03Z", response=resp(409)),
        claim(8, "2026-10-03T12:00:04Z", response=resp(399)),
        claim(16, "2026-10-03T12:00:05Z", response=resp(200)),
        claim(32, "2026-10-03T12:00:06Z", response=resp(201)),
        claim(64, "2026-10-03T12:00:07Z"),
        # schema comes first: quarantined, not rejected
        claim("3", "2026-10-03T12:00:08Z", response=resp(400)),
        # rejection comes before the customer check
        claim(1, "2026-10-03T12:00:09Z", account="org_nobody", response=resp(401)),
    ])
    write_dump(tmp_path / "raw", "tula/resp.jsonl", [
        visit(guid="00000000-0000-0000-0000-000000000001", response=resp(404)),
        visit(guid="00000000-0000-0000-0000-000000000002", response={"status": 200, "body": {}}),
    ])

    r = run(tmp_path)

    assert outcomes_of(r, "samplehc/resp.jsonl") == [
        ("rejected_by_vendor", None), ("rejected_by_vendor", None), ("rejected_by_vendor", None),
        ("billed", None), ("billed", None), ("billed", None), ("billed", None),
        ("quarantined", "schema_violation"), ("rejected_by_vendor", None)]
    assert outcomes_of(r, "tula/resp.jsonl") == [("rejected_by_vendor", None), ("billed", None)]
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("60.00"),   # 120 × 0.50
                         ("c_ny", "2026-10-01"): Decimal("10.00")}
    counts = r.con.sql(
        "SELECT source, records, billed, rejected_by_vendor, quarantined FROM reconciliation "
        "WHERE source IN ('samplehc', 'tula') ORDER BY 1").fetchall()
    assert counts == [("samplehc", 9, 4, 4, 1), ("tula", 2, 1, 1, 0)]


def test_a_response_body_that_is_not_an_object_rejects_and_replays_nothing(tmp_path):
    bodies = ["idempotentReplay", ["idempotentReplay", True], None, 7]
    write_dump(tmp_path / "raw", "samplehc/resp.jsonl", [
        claim(2 ** i, f"2026-10-03T12:00:0{i}Z", response={"status": 200, "body": b}) for i, b in enumerate(bodies)])
    write_dump(tmp_path / "raw", "paygentic/resp.jsonl", [
        envelope({"events": [{"idempotencyKey": f"k{i}", "customerId": "cust-usd", "merchantId": "m1",
                              "timestamp": "2026-10-05T12:00:00Z",
                              "properties": [{"billableMetricId": "requests", "quantity": 1}]}]},
                 f"2026-10-03T12:00:0{i}Z", response={"status": 207, "body": b})
        for i, b in enumerate(["failed", [{"index": 0}], None])])

    r = run(tmp_path)

    assert set(r.outcomes().values()) == {("billed", None)}
    assert len(r.outcomes()) == 7
    # claims: 1 + 2 + 4 + 8 = 15 at 0.50; paygentic: 3 requests at 1
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("10.50")}


def test_redelivery_is_equality_as_json_values(tmp_path):
    base = '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 3}}'
    lines = [
        base,                                                                                      # 1 first
        '{"body": {"quantity": 3, "eventSlug": "claim-check"}, "account": "org_usd", "receivedAt": "2026-10-03T12:00:00Z"}',  # 2 dup
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 3.0}}',  # 3 dup
        '{"receivedAt":"2026-10-03T12:00:00Z","account":"org_usd","body":{"eventSlug":"claim\\u002dcheck","quantity":30e-1}}',  # 4 dup
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 4}}',  # 5 differs
        '{"receivedAt": "2026-10-03T12:00:00.000Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 3}}',  # 6 differs
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "headers": {"x-request-id": "r2"}, "body": {"eventSlug": "claim-check", "quantity": 3}}',  # 7 differs
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "response": {"status": 200, "body": {}}, "body": {"eventSlug": "claim-check", "quantity": 3}}',  # 8 differs
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 1}}',  # 9 first of its own
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 1e0}}',  # 10 dup of 9
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 2, "metadata": {"a": {"x": 1, "y": [1, 2]}}}}',  # 11
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 2, "metadata": {"a": {"y": [1.0, 2e0], "x": 1}}}}',  # 12 dup of 11
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 2, "metadata": {"a": {"x": 1, "y": [2, 1]}}}}',  # 13 array order differs
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 2, "metadata": {"a": {"x": "1", "y": [1, 2]}}}}',  # 14 "1" is not 1
    ]
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", lines)
    write_dump(tmp_path / "raw", "samplehc/b.jsonl", [base, base.replace("12:00:00Z", "12:00:01Z")])

    r = run(tmp_path)

    B, D = ("billed", None), ("duplicate", None)
    assert outcomes_of(r, "samplehc/a.jsonl") == [B, D, D, D, B, B, B, B, B, D, B, D, B, B]
    assert outcomes_of(r, "samplehc/b.jsonl") == [D, B]
    # billed quantities: 3 + 4 + 3 + 3 + 3 + 1 + 2 + 2 + 2 + 3 = 26 at 0.50
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("13.00")}


def test_redelivery_is_per_source(tmp_path):
    """The same line in tula and in sequence (where it is valid too) is two records, each billed."""
    body = {"billingEventGuid": GUID, "eventDateTime": "2026-10-03T10:00:00Z", "eventTypeId": "Visit",
            "quantity": 2, "customerAlias": "alias-usd", "eventType": "api-call"}
    same = envelope(body, T, path="/api/v1/BillingEvents/Clinic%20USD")
    write_dump(tmp_path / "raw", "tula/a.jsonl", [same])
    write_dump(tmp_path / "raw", "tula/b.jsonl", [same, ""])        # other bytes, the same line
    write_dump(tmp_path / "raw", "sequence/a.jsonl", ["", same])

    r = run(tmp_path)

    assert r.outcomes() == {
        ("tula/a.jsonl", 1, 0): ("billed", None),
        ("tula/b.jsonl", 1, 0): ("duplicate", None),
        ("sequence/a.jsonl", 2, 0): ("billed", None),
    }
    lines = r.con.sql("SELECT metric_id, quantity, amount FROM invoice_lines ORDER BY 1").fetchall()
    assert lines == [("api_calls", Decimal(1), Decimal("0.02")), ("visits", Decimal(2), Decimal("20.00"))]


def test_quarantined_rejected_or_duplicate_lines_are_never_the_first_copy(tmp_path):
    key = {"idempotency-key": "k-1"}
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [
        # not strict JSON: not a first copy of the identical strict line 2
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 1},}',
        '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", "body": {"eventSlug": "claim-check", "quantity": 1}}',
        # key k-1: rejected, then schema_violation, then a vendor replay, then the first standing one
        claim(2, "2026-10-03T12:00:01Z", headers=key, response={"status": 503, "body": {}}),
        claim(-2, "2026-10-03T12:00:02Z", headers=key),
        claim(4, "2026-10-03T12:00:03Z", headers=key, response={"status": 200, "body": {"idempotentReplay": True}}),
        claim(8, "2026-10-03T12:00:04Z", headers=key),
        claim(16, "2026-10-03T12:00:05Z", headers=key),
    ])

    r = run(tmp_path)

    assert outcomes_of(r, "samplehc/a.jsonl") == [
        ("quarantined", "invalid_json"), ("billed", None),
        ("rejected_by_vendor", None), ("quarantined", "schema_violation"), ("duplicate", None),
        ("billed", None), ("duplicate", None)]
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("4.50")}  # (1 + 8) × 0.50


def test_order_is_received_at_then_path_then_line_never_load_order(tmp_path):
    def keyed(q, t, k):
        return claim(q, t, headers={"Idempotency-Key": k})

    raw = tmp_path / "raw"
    # k1: the earlier receivedAt is in the file with the later name
    write_dump(raw, "samplehc/a.jsonl", [
        keyed(1, "2026-10-03T11:00:00Z", "k1"),
        keyed(2, "2026-10-03T10:00:00Z", "k2"),           # 10:00Z, later than 09:30Z below
        keyed(4, T, "k3"),
        keyed(8, T, "k4"),
        keyed(16, T, "k5"),                               # line 5: earlier than line 6
        keyed(32, T, "k5"),
        keyed(64, "2026-10-03T12:00:00.0000002Z", "k6"),
    ])
    write_dump(raw, "samplehc/b.jsonl", [
        keyed(128, "2026-10-03T10:00:00Z", "k1"),
        keyed(256, "2026-10-03T11:30:00+02:00", "k2"),    # 09:30Z: earlier, though its text sorts later
        keyed(512, "2026-10-03T14:00:00+02:00", "k3"),    # the same instant as a.jsonl: path decides
        keyed(1024, "2026-10-03T12:00:00.0000001Z", "k6"),  # 100 ns earlier than a.jsonl line 7
    ])
    # plain string order of paths: 'B' < 'a', and 'samplehc/a.jsonl' < 'samplehc/a/z.jsonl' ('.' < '/')
    write_dump(raw, "samplehc/B.jsonl", [keyed(2048, T, "k4")])
    write_dump(raw, "samplehc/a/z.jsonl", [keyed(4096, T, "k3")])

    r = run(tmp_path)

    B, D = ("billed", None), ("duplicate", None)
    assert outcomes_of(r, "samplehc/a.jsonl") == [D, D, B, D, B, D, D]
    assert outcomes_of(r, "samplehc/b.jsonl") == [B, B, D, B]
    assert outcomes_of(r, "samplehc/B.jsonl") == [B]
    assert outcomes_of(r, "samplehc/a/z.jsonl") == [D]
    # billed: 4 + 16 + 128 + 256 + 1024 + 2048 = 3476 claims at 0.50
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("1738.00")}


def test_a_large_batch_judges_its_bad_lines_the_same_wherever_they_fall(tmp_path):
    """A batch of thousands of lines is staged by every DuckDB thread at once, each over its share of
    the lines; one line that is not JSON sends the whole batch through the slower path. Lines that are
    not strict JSON, or hold a number DuckDB cannot read exactly, are judged alike on odd and even
    line numbers, among 5,000 good ones."""
    head = '{"receivedAt": "2026-10-03T12:00:00Z", "account": "org_usd", '
    bad = {
        101: "not json at all",
        1002: head + '"body": {"eventSlug": "claim-check", "quantity": 1,}}',
        2503: head + '"body": {"eventSlug": "claim-check", "quantity": NaN}}',
        4004: head + '"body": ' + VALID_BODY,
    }
    inexact = {n: head + '"body": {"eventSlug": "claim-check", "quantity": 1, "metadata": {"x": 0.12345678901234567891}}}'
               for n in (3001, 3502)}
    lines = [claim(1, f"2026-10-03T{12 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z") for n in range(5000)]
    for number, text in sorted({**bad, **inexact}.items()):
        lines.insert(number - 1, text)
    write_dump(tmp_path / "raw", "samplehc/large.jsonl", lines)

    r = run(tmp_path)

    outcomes = {line: v for (file, line, _), v in r.outcomes().items() if file == "samplehc/large.jsonl"}
    assert len(outcomes) == 5006
    assert {line for line, v in outcomes.items() if v == ("quarantined", "invalid_json")} == set(bad)
    assert {line for line, v in outcomes.items() if v == ("quarantined", "invalid_value")} == set(inexact)
    assert sum(v == ("billed", None) for v in outcomes.values()) == 5000
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("2500.00")}  # 5,000 claims × 0.50
