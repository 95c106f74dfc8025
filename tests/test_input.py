"""SPEC §1: how raw dump files are found, split into lines, loaded once, and redacted."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

from harness import envelope, run, write_dump

T = "2026-10-03T12:00:00Z"  # before 2026-10-15: claims cost 0.50 USD by default


def claim(quantity: int, received_at: str = T, **fields) -> dict:
    """A samplehc claim-check for org_usd (c_usd, USD, UTC)."""
    return envelope({"eventSlug": "claim-check", "quantity": quantity}, received_at, account="org_usd", **fields)


def line(record: dict) -> str:
    return json.dumps(record)


def totals(r) -> dict[tuple[str, str], Decimal]:
    """(customer_id, period_start) -> invoice total."""
    return {(c, str(p)): t for c, p, t in r.con.sql(
        "SELECT customer_id, period_start, total FROM invoices").fetchall()}


def write_bytes(raw: Path, relative: str, data: bytes, gz: bool = False) -> None:
    path = raw / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)


def test_dump_endings_nested_folders_and_relative_source_file(tmp_path):
    raw = tmp_path / "raw"
    # read: quantities 1 + 2 + 4 + 8 + 16 = 31
    write_dump(raw, "samplehc/a.jsonl", [claim(1, "2026-10-03T12:00:01Z")])
    write_dump(raw, "samplehc/b.ndjson", [claim(2, "2026-10-03T12:00:02Z")])
    write_dump(raw, "samplehc/c.jsonl.gz", [claim(4, "2026-10-03T12:00:03Z")], gz=True)
    write_dump(raw, "samplehc/d.ndjson.gz", [claim(8, "2026-10-03T12:00:04Z")], gz=True)
    write_dump(raw, "samplehc/2026/10/deep/e.jsonl", [claim(16, "2026-10-03T12:00:05Z")])
    # ignored: other endings, outside a source folder, an unknown source folder
    write_dump(raw, "samplehc/f.json", [claim(32, "2026-10-03T12:00:06Z")])
    write_dump(raw, "samplehc/g.txt", [claim(64, "2026-10-03T12:00:07Z")])
    write_dump(raw, "samplehc/h.jsonl.bak", [claim(128, "2026-10-03T12:00:08Z")])
    write_dump(raw, "samplehc/i.gz", [claim(256, "2026-10-03T12:00:09Z")], gz=True)
    write_dump(raw, "samplehc/j.jsonl.gz.part", [claim(512, "2026-10-03T12:00:10Z")], gz=True)
    write_dump(raw, "samplehc/jsonl", [claim(1024, "2026-10-03T12:00:11Z")])
    write_dump(raw, "k.jsonl", [claim(2048, "2026-10-03T12:00:12Z")])
    write_dump(raw, "other/l.jsonl", [claim(4096, "2026-10-03T12:00:13Z")])

    r = run(tmp_path)

    assert r.outcomes() == {
        ("samplehc/a.jsonl", 1, 0): ("billed", None),
        ("samplehc/b.ndjson", 1, 0): ("billed", None),
        ("samplehc/c.jsonl.gz", 1, 0): ("billed", None),
        ("samplehc/d.ndjson.gz", 1, 0): ("billed", None),
        ("samplehc/2026/10/deep/e.jsonl", 1, 0): ("billed", None),
    }
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("15.50")}  # 31 × 0.50
    quarantine_files = r.con.sql("SELECT DISTINCT source_file FROM quarantine").fetchall()
    assert quarantine_files == []


def test_line_numbers_count_blank_lines_and_crlf(tmp_path):
    raw = tmp_path / "raw"
    text = "\n".join([
        "",                              # 1 blank
        line(claim(1, "2026-10-03T12:00:01Z")),  # 2
        "   \t ",                        # 3 whitespace only
        line(claim(2, "2026-10-03T12:00:02Z")),  # 4
        "",                              # 5
        "\r",                            # 6 only a CR: blank
        line(claim(4, "2026-10-03T12:00:03Z")),  # 7, last line has no final newline
    ])
    write_bytes(raw, "samplehc/lf.jsonl", text.encode())
    crlf = "\r\n".join([
        line(claim(8, "2026-10-03T12:00:04Z")),  # 1
        "",                                       # 2
        # 3: a CR that is not before a newline is JSON whitespace inside the line, not a line end
        '{"receivedAt": "2026-10-03T12:00:05Z",\r "account": "org_usd",\r'
        ' "body": {"eventSlug": "claim-check", "quantity": 16}}',
        "",                                       # 4
    ]) + "\r\n"
    write_bytes(raw, "samplehc/crlf.jsonl", crlf.encode())

    r = run(tmp_path)

    assert r.outcomes() == {
        ("samplehc/lf.jsonl", 2, 0): ("billed", None),
        ("samplehc/lf.jsonl", 4, 0): ("billed", None),
        ("samplehc/lf.jsonl", 7, 0): ("billed", None),
        ("samplehc/crlf.jsonl", 1, 0): ("billed", None),
        ("samplehc/crlf.jsonl", 3, 0): ("billed", None),
    }
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("15.50")}  # 31 × 0.50
    reconciliation = r.con.sql(
        "SELECT records, billed, quarantined FROM reconciliation WHERE source = 'samplehc'").fetchall()
    assert reconciliation == [(5, 5, 0)]
    # the stored line has no trailing CR
    stored = r.con.sql(
        "SELECT envelope FROM raw_samplehc WHERE source_file = 'samplehc/crlf.jsonl' AND line_number = 1"
    ).fetchall()[0][0]
    assert not stored.endswith("\r")


def test_utf8_bom_at_file_start_is_ignored(tmp_path):
    raw = tmp_path / "raw"
    bom = b"\xef\xbb\xbf"
    write_bytes(raw, "samplehc/bom.jsonl",
                bom + (line(claim(1, "2026-10-03T12:00:01Z")) + "\n" + line(claim(2, "2026-10-03T12:00:02Z")) + "\n").encode())
    write_bytes(raw, "samplehc/bom.jsonl.gz",
                bom + (line(claim(4, "2026-10-03T12:00:03Z")) + "\n").encode(), gz=True)
    # a BOM anywhere else is not whitespace: that line is not JSON
    write_bytes(raw, "samplehc/mid.jsonl",
                (line(claim(8, "2026-10-03T12:00:04Z")) + "\n").encode()
                + bom + (line(claim(16, "2026-10-03T12:00:05Z")) + "\n").encode())

    r = run(tmp_path)

    assert r.outcomes() == {
        ("samplehc/bom.jsonl", 1, 0): ("billed", None),
        ("samplehc/bom.jsonl", 2, 0): ("billed", None),
        ("samplehc/bom.jsonl.gz", 1, 0): ("billed", None),
        ("samplehc/mid.jsonl", 1, 0): ("billed", None),
        ("samplehc/mid.jsonl", 2, 0): ("quarantined", "invalid_json"),
    }
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("7.50")}  # 15 × 0.50


def test_unicode_separators_inside_a_line_are_just_characters(tmp_path):
    raw = tmp_path / "raw"
    separators = ["\u2028", "\u2029", "\u0085", "\u000b", "\u001c"]
    records = []
    for i, sep in enumerate(separators[:3]):
        body = {"eventSlug": "claim-check", "quantity": 1 << i,
                "workflowRunId": f"run{sep}{i}", "metadata": {"note": f"a{sep}b"}}
        records.append(envelope(body, f"2026-10-03T12:00:0{i}Z", account="org_usd"))
    text = "".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records)
    assert "\u2028" in text and "\u2029" in text and "\u0085" in text
    write_bytes(raw, "samplehc/seps.jsonl", text.encode("utf-8"))

    r = run(tmp_path)

    assert r.outcomes() == {
        ("samplehc/seps.jsonl", 1, 0): ("billed", None),
        ("samplehc/seps.jsonl", 2, 0): ("billed", None),
        ("samplehc/seps.jsonl", 3, 0): ("billed", None),
    }
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("3.50")}  # 7 × 0.50
    stored = r.con.sql("SELECT envelope FROM raw_samplehc WHERE line_number = 1").fetchall()[0][0]
    assert json.loads(stored)["body"]["workflowRunId"] == "run\u20280"


def test_line_that_is_not_utf8_is_invalid_json_and_the_file_goes_on(tmp_path):
    raw = tmp_path / "raw"
    good1 = line(claim(1, "2026-10-03T12:00:01Z")).encode()
    bad = line(claim(2, "2026-10-03T12:00:02Z")).encode().replace(b"claim-check", b"claim-\xff\xfecheck")
    overlong = line(claim(4, "2026-10-03T12:00:03Z")).encode().replace(b"org_usd", b"org_usd\xc0\xaf")
    good2 = line(claim(8, "2026-10-03T12:00:04Z")).encode()
    write_bytes(raw, "samplehc/mixed.jsonl", b"\n".join([good1, bad, overlong, good2]) + b"\n")
    write_bytes(raw, "samplehc/mixed.jsonl.gz", b"\n".join([bad.replace(b"12:00:02", b"12:00:05"), good2.replace(b"12:00:04", b"12:00:06")]), gz=True)

    r = run(tmp_path)

    assert r.outcomes() == {
        ("samplehc/mixed.jsonl", 1, 0): ("billed", None),
        ("samplehc/mixed.jsonl", 2, 0): ("quarantined", "invalid_json"),
        ("samplehc/mixed.jsonl", 3, 0): ("quarantined", "invalid_json"),
        ("samplehc/mixed.jsonl", 4, 0): ("billed", None),
        ("samplehc/mixed.jsonl.gz", 1, 0): ("quarantined", "invalid_json"),
        ("samplehc/mixed.jsonl.gz", 2, 0): ("billed", None),
    }
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("8.50")}  # (1 + 8 + 8) × 0.50
    quarantined = r.con.sql("SELECT source_file, line_number FROM quarantine ORDER BY 1, 2").fetchall()
    assert quarantined == [("samplehc/mixed.jsonl", 2), ("samplehc/mixed.jsonl", 3), ("samplehc/mixed.jsonl.gz", 1)]


def test_same_bytes_under_another_name_or_source_are_loaded_once(tmp_path):
    raw = tmp_path / "raw"
    lines = [claim(3, "2026-10-03T12:00:01Z"), claim(5, "2026-10-03T12:00:02Z")]
    write_dump(raw, "samplehc/a.jsonl", lines)
    write_dump(raw, "samplehc/copies/again.jsonl", lines)
    write_dump(raw, "tula/renamed.jsonl", lines)

    r = run(tmp_path)

    outcomes = r.outcomes()
    assert len(outcomes) == 2, outcomes
    assert len({file for file, _, _ in outcomes}) == 1
    raw_lines = r.con.sql(
        "SELECT (SELECT count(*) FROM raw_samplehc) + (SELECT count(*) FROM raw_tula)").fetchall()[0][0]
    assert raw_lines == 2
    if next(iter(outcomes))[0] == "samplehc/a.jsonl":
        assert totals(r) == {("c_usd", "2026-10-01"): Decimal("4.00")}


def test_copy_added_in_a_later_run_is_skipped(tmp_path):
    raw = tmp_path / "raw"
    lines = [claim(3, "2026-10-03T12:00:01Z"), claim(5, "2026-10-03T12:00:02Z")]
    write_dump(raw, "samplehc/b.jsonl", lines)
    first = run(tmp_path)
    assert first.outcomes() == {
        ("samplehc/b.jsonl", 1, 0): ("billed", None),
        ("samplehc/b.jsonl", 2, 0): ("billed", None),
    }
    first.con.close()

    # same bytes, a name that sorts first, and in another source's folder
    write_dump(raw, "samplehc/a.jsonl", lines)
    write_dump(raw, "paygentic/copy.jsonl", lines)
    second = run(tmp_path)

    assert second.outcomes() == {
        ("samplehc/b.jsonl", 1, 0): ("billed", None),
        ("samplehc/b.jsonl", 2, 0): ("billed", None),
    }
    assert totals(second) == {("c_usd", "2026-10-01"): Decimal("4.00")}  # 8 × 0.50


def test_same_lines_in_other_bytes_are_loaded_and_are_redeliveries(tmp_path):
    """gzip changes the bytes as stored: the file is loaded, and its identical lines are re-deliveries."""
    raw = tmp_path / "raw"
    lines = [claim(3, "2026-10-03T12:00:01Z"), claim(5, "2026-10-03T12:00:02Z")]
    write_dump(raw, "samplehc/a.jsonl", lines)
    write_dump(raw, "samplehc/a.jsonl.gz", lines, gz=True)

    r = run(tmp_path)

    assert r.outcomes() == {
        ("samplehc/a.jsonl", 1, 0): ("billed", None),
        ("samplehc/a.jsonl", 2, 0): ("billed", None),
        ("samplehc/a.jsonl.gz", 1, 0): ("duplicate", None),
        ("samplehc/a.jsonl.gz", 2, 0): ("duplicate", None),
    }
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("4.00")}


def _snapshot(r) -> dict[str, list]:
    tables = ["usage_events", "quarantine", "reconciliation", "invoices", "invoice_lines",
              "raw_files", "raw_samplehc", "raw_tula"]
    return {t: sorted(map(repr, r.con.sql(f"SELECT * FROM {t}").fetchall())) for t in tables}


def test_rerun_over_the_same_dir_changes_nothing(tmp_path):
    raw = tmp_path / "raw"
    write_dump(raw, "samplehc/a.jsonl", [
        claim(3, "2026-10-03T12:00:01Z", headers={"idempotency-key": "k"}),
        claim(4, "2026-10-03T12:00:02Z", headers={"idempotency-key": "k"}),
        "not json",
        claim(5, "2026-10-20T12:00:00Z"),
    ])
    write_dump(raw, "tula/x.jsonl", [envelope(
        {"billingEventGuid": "6d91f288-c380-4652-bd35-ce286ac4c806", "eventDateTime": "2026-10-05T00:00:00",
         "eventTypeId": "Visit", "quantity": 2}, path="/api/v1/BillingEvents/clinic-ny")])

    first = run(tmp_path)
    expected_outcomes = {
        ("samplehc/a.jsonl", 1, 0): ("billed", None),
        ("samplehc/a.jsonl", 2, 0): ("duplicate", None),
        ("samplehc/a.jsonl", 3, 0): ("quarantined", "invalid_json"),
        ("samplehc/a.jsonl", 4, 0): ("billed", None),
        ("tula/x.jsonl", 1, 0): ("billed", None),
    }
    assert first.outcomes() == expected_outcomes
    # c_usd: 3 × 0.50 + 5 × 0.55; c_ny: 2 visits × 10
    expected_totals = {("c_usd", "2026-10-01"): Decimal("4.25"), ("c_ny", "2026-10-01"): Decimal("20.00")}
    assert totals(first) == expected_totals
    before = _snapshot(first)
    first.con.close()

    second = run(tmp_path)
    assert second.outcomes() == expected_outcomes
    assert totals(second) == expected_totals
    assert _snapshot(second) == before


def test_results_do_not_depend_on_how_loads_were_split(tmp_path):
    """A file loaded in a later run with earlier receivedAt still comes first in order."""
    raw = tmp_path / "raw"
    write_dump(raw, "samplehc/a.jsonl", [claim(3, "2026-10-03T12:00:00Z", headers={"idempotency-key": "k"})])
    first = run(tmp_path)
    assert first.outcomes() == {("samplehc/a.jsonl", 1, 0): ("billed", None)}
    first.con.close()

    write_dump(raw, "samplehc/b.jsonl", [claim(7, "2026-10-03T11:00:00Z", headers={"idempotency-key": "k"})])
    second = run(tmp_path)
    expected = {
        ("samplehc/a.jsonl", 1, 0): ("duplicate", None),
        ("samplehc/b.jsonl", 1, 0): ("billed", None),
    }
    assert second.outcomes() == expected
    assert totals(second) == {("c_usd", "2026-10-01"): Decimal("3.50")}  # 7 × 0.50
    second.con.close()

    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    once = run(fresh_dir, raw_dir=raw)
    assert once.outcomes() == expected
    assert totals(once) == {("c_usd", "2026-10-01"): Decimal("3.50")}


CREDENTIAL_NAMES = ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"]


def _cells_containing(con, needle: str) -> list[tuple[str, str]]:
    """(table, column) of every table or view whose column, as text, contains `needle`."""
    hits = []
    columns = con.sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY 1, 2").fetchall()
    assert columns
    for table, column in columns:
        count = con.execute(
            f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) LIKE ?', [f"%{needle}%"]
        ).fetchall()[0][0]
        if count:
            hits.append((table, column))
    return hits


def test_credentials_never_reach_the_warehouse(tmp_path):
    raw = tmp_path / "raw"
    body = '{"eventSlug": "claim-check", "quantity": 1}'
    shc = 'samplehc/creds.jsonl'
    lines = [
        # 1 valid JSON, mixed case, with headers that must be kept
        line(claim(1, "2026-10-03T12:00:01Z", headers={
            "Authorization": "Bearer sk_live_one", "X-Request-Id": "req-1", "X-Api-Key-Id": "kid-1"})),
        # 2 every credential name, any case, one multi-valued
        line(claim(2, "2026-10-03T12:00:02Z", headers={
            "PROXY-AUTHORIZATION": "Basic sk_live_two", "cookie": "sid=sk_live_three",
            "Set-Cookie": ["a=sk_live_four", "b=sk_live_five"], "x-API-key": "sk_live_six",
            "Idempotency-Key": "k-2"})),
        # 3 trailing comma: not strict JSON
        '{"receivedAt": "2026-10-03T12:00:03Z", "account": "org_usd", '
        '"headers": {"Authorization": "Bearer sk_live_seven"}, "body": ' + body + ',}',
        # 4 truncated line
        '{"receivedAt": "2026-10-03T12:00:04Z", "account": "org_usd", "headers": {"X-Api-Key": "sk_live_eight',
        # 5 NaN
        '{"receivedAt": "2026-10-03T12:00:05Z", "account": "org_usd", "headers": {"Cookie": "sk_live_nine"}, '
        '"body": {"eventSlug": "claim-check", "quantity": NaN}}',
        # 6 JSON, but an array
        '[{"receivedAt": "2026-10-03T12:00:06Z", "headers": {"authorization": "sk_live_ten"}}]',
        # 7 the same header name twice
        '{"receivedAt": "2026-10-03T12:00:07Z", "account": "org_usd", '
        '"headers": {"authorization": "sk_live_eleven", "authorization": "sk_live_twelve"}, "body": '
        + body.replace("1}", "7}") + '}',
        # 8 a header name spelled with a JSON escape is still `authorization`
        '{"receivedAt": "2026-10-03T12:00:08Z", "account": "org_usd", '
        '"headers": {"\\u0041uthorization": "sk_live_thirteen"}, "body": ' + body.replace("1}", "8}") + '}',
        # 9 not strict JSON, a multi-valued credential
        '{"receivedAt": "2026-10-03T12:00:10Z", "account": "org_usd", "headers": {"Set-Cookie": '
        '["a=sk_live_sixteen", "b=\\"]sk_live_seventeen"], "cookie" : "sk_live_eighteen"}, "body": ' + body + ',}',
    ]
    write_dump(raw, shc, lines)
    bad_utf8 = ('{"receivedAt": "2026-10-03T12:00:09Z", "account": "org_usd", "headers": '
                '{"authorization": "sk_live_fourteen"}, "body": {"eventSlug": "claim-\xff", "quantity": 1}}')
    write_bytes(raw, "samplehc/latin1.jsonl", bad_utf8.encode("latin-1") + b"\n")
    write_dump(raw, "tula/creds.jsonl", [envelope(
        {"billingEventGuid": "6d91f288-c380-4652-bd35-ce286ac4c806", "eventDateTime": "2026-10-05T00:00:00",
         "eventTypeId": "Visit", "quantity": 2},
        path="/api/v1/BillingEvents/clinic-ny", headers={"Authorization": "sk_live_fifteen", "Accept": "*/*"})])

    r = run(tmp_path)

    assert r.outcomes() == {
        (shc, 1, 0): ("billed", None),
        (shc, 2, 0): ("billed", None),
        (shc, 3, 0): ("quarantined", "invalid_json"),
        (shc, 4, 0): ("quarantined", "invalid_json"),
        (shc, 5, 0): ("quarantined", "invalid_json"),
        (shc, 6, 0): ("quarantined", "invalid_json"),
        (shc, 7, 0): ("billed", None),
        (shc, 8, 0): ("billed", None),
        (shc, 9, 0): ("quarantined", "invalid_json"),
        ("samplehc/latin1.jsonl", 1, 0): ("quarantined", "invalid_json"),
        ("tula/creds.jsonl", 1, 0): ("billed", None),
    }
    # c_usd: (1 + 2 + 7 + 8) × 0.50; c_ny: 2 × 10
    assert totals(r) == {("c_usd", "2026-10-01"): Decimal("9.00"), ("c_ny", "2026-10-01"): Decimal("20.00")}
    assert _cells_containing(r.con, "sk_live") == []

    def stored(table: str, file: str, n: int) -> str:
        return r.con.execute(
            f"SELECT envelope FROM {table} WHERE source_file = ? AND line_number = ?", [file, n]).fetchall()[0][0]

    assert json.loads(stored("raw_samplehc", shc, 1))["headers"] == {
        "Authorization": "[REDACTED]", "X-Request-Id": "req-1", "X-Api-Key-Id": "kid-1"}
    headers2 = json.loads(stored("raw_samplehc", shc, 2))["headers"]
    assert {k.lower(): v for k, v in headers2.items()} == {
        "proxy-authorization": "[REDACTED]", "cookie": "[REDACTED]", "set-cookie": "[REDACTED]",
        "x-api-key": "[REDACTED]", "idempotency-key": "k-2"}
    assert json.loads(stored("raw_tula", "tula/creds.jsonl", 1))["headers"] == {
        "Authorization": "[REDACTED]", "Accept": "*/*"}
    quarantined_raw = dict(((f, n), raw_text) for f, n, raw_text in r.con.sql(
        "SELECT source_file, line_number, raw FROM quarantine").fetchall())
    for n in (3, 4, 5, 6, 9):
        assert "[REDACTED]" in quarantined_raw[(shc, n)], quarantined_raw[(shc, n)]
    assert "[REDACTED]" in quarantined_raw[("samplehc/latin1.jsonl", 1)]


def test_batches_of_files_store_what_a_transaction_per_file_stores(tmp_path):
    """Files are inserted in batches per source; each file keeps its own sha256, lines and raw_files row."""
    import duckdb

    from transforms.raw.dump_files import discover_dump_files
    from transforms.raw.load import load_dump_files

    raw = tmp_path / "raw"
    write_dump(raw, "samplehc/a.jsonl", [claim(1), "", claim(2)])
    write_dump(raw, "samplehc/b.jsonl", [claim(3, headers={"Authorization": "Bearer s3cret"})])
    write_dump(raw, "samplehc/copy-of-a.jsonl", [claim(1), "", claim(2)])
    write_dump(raw, "tula/c.jsonl", ["not json", claim(4)])
    files = discover_dump_files(raw).files

    stored = []
    for batch_bytes in (1, 1 << 30):
        con = duckdb.connect()
        progress = []
        report = load_dump_files(con, files, lambda done, total, f, seen=progress: seen.append(
            (done, total, f.source_file)), batch_bytes=batch_bytes)
        assert [f.source_file for f in report.skipped] == ["samplehc/copy-of-a.jsonl"]
        assert progress == [(1, 3, "samplehc/a.jsonl"), (2, 3, "samplehc/b.jsonl"), (3, 3, "tula/c.jsonl")]
        assert report.lines_by_source == {"samplehc": 3, "tula": 2, "sequence": 0, "paygentic": 0}
        stored.append({
            "files": con.sql("SELECT file_sha256, source, source_file, byte_size, line_count, load_id "
                             "FROM raw_files ORDER BY source_file").fetchall(),
            "lines": con.sql("SELECT * FROM raw_samplehc UNION ALL SELECT * FROM raw_tula ORDER BY ALL").fetchall(),
        })
    assert stored[0] == stored[1]
    assert [(f[2], f[4]) for f in stored[0]["files"]] == [("samplehc/a.jsonl", 2), ("samplehc/b.jsonl", 1),
                                                         ("tula/c.jsonl", 2)]
    by_file = {f.source_file: f.sha256 for f in files}
    assert {(line[0], line[1], line[2]) for line in stored[0]["lines"]} == {
        ("samplehc/a.jsonl", by_file["samplehc/a.jsonl"], 1), ("samplehc/a.jsonl", by_file["samplehc/a.jsonl"], 3),
        ("samplehc/b.jsonl", by_file["samplehc/b.jsonl"], 1),
        ("tula/c.jsonl", by_file["tula/c.jsonl"], 1), ("tula/c.jsonl", by_file["tula/c.jsonl"], 2)}
    assert not any("s3cret" in line[3] for line in stored[0]["lines"])


def test_a_file_is_read_again_only_when_its_stamp_changed(tmp_path, monkeypatch):
    """A run hashes only the files whose size, mtime, ctime or inode changed since they were hashed;
    a file rewritten in place, even to the same size and mtime, is hashed again (and, loaded before, refused)."""
    import hashlib
    import os

    import duckdb

    from transforms.raw import dump_files
    from transforms.raw.load import known_hashes, load_dump_files

    raw = tmp_path / "raw"
    write_dump(raw, "samplehc/a.jsonl", [claim(1)])
    write_dump(raw, "samplehc/b.jsonl", [claim(2)])
    con = duckdb.connect()
    first = load_dump_files(con, dump_files.discover_dump_files(raw, known_hashes(con)).files)
    assert [f.source_file for f in first.loaded] == ["samplehc/a.jsonl", "samplehc/b.jsonl"]

    hashed = []
    real_sha256 = dump_files._sha256
    monkeypatch.setattr(dump_files, "_sha256", lambda path: hashed.append(path.name) or real_sha256(path))
    again = dump_files.discover_dump_files(raw, known_hashes(con)).files
    assert hashed == []
    assert [(f.source_file, f.sha256) for f in again] == [(f.source_file, f.sha256) for f in first.loaded]

    b = raw / "samplehc" / "b.jsonl"
    stat = b.stat()
    b.write_text(b.read_text().replace('"quantity": 2', '"quantity": 3'))  # same size
    os.utime(b, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old mtime: only ctime tells
    assert b.stat().st_size == stat.st_size
    found = dump_files.discover_dump_files(raw, known_hashes(con)).files
    assert hashed == ["b.jsonl"]
    assert [(f.source_file, f.sha256) for f in found] == [
        ("samplehc/a.jsonl", first.loaded[0].sha256), ("samplehc/b.jsonl", hashlib.sha256(b.read_bytes()).hexdigest())]
    rewritten = load_dump_files(con, found)
    assert rewritten.loaded == []
    assert [f.source_file for f in rewritten.skipped] == ["samplehc/a.jsonl"]
    assert [r.source_file for r in rewritten.refused] == ["samplehc/b.jsonl"]
