"""SPEC §1 "Credentials": no credential reaches anything tally writes, however it is spelled, and
redaction changes nothing else (a body property named cookie is data; numbers keep their spelling).

The end-to-end tests run `tally run`'s path (``run_pipeline``, on an ephemeral Dagster instance) and
look for every secret in every table of the published warehouse and of the working database, in the
bytes of every file written beside them, in the Dagster event log, and in `tally explain`'s output.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import REFERENCE, run, write_dump, write_reference
from transforms.raw.redact import may_hold_credential, redact_line, redact_lines

SH = "samplehc/creds.jsonl"
SEQ = "sequence/numbers.jsonl"
PG = "paygentic/metadata.jsonl"
BODY = '{"eventSlug": "claim-check", "quantity": 1}'

SAMPLEHC_LINES = [
    # 1 `headers` twice: each copy's credentials are redacted (the second copy is not "overwritten" by the first)
    '{"receivedAt": "2026-10-03T12:00:01Z", "account": "org_usd", '
    '"headers": {"Authorization": "Bearer tok_dup_first"}, '
    '"body": ' + BODY + ', "headers": {"Cookie": "sid=tok_dup_second", "X-Request-Id": "r-1"}}',
    # 2 a header name spelled with a JSON escape
    '{"receivedAt": "2026-10-03T12:00:02Z", "account": "org_usd", '
    '"headers": {"Authoriz\\u0061tion": "Bearer tok_escaped_name", "Accept": "*/*"}, "body": ' + BODY + '}',
    # 3 `headers` given as a string (invalid_envelope)
    '{"receivedAt": "2026-10-03T12:00:03Z", "account": "org_usd", '
    '"headers": "Authorization: Bearer tok_string_headers", "body": ' + BODY + '}',
    # 4 single quotes: not JSON
    "{'receivedAt': '2026-10-03T12:00:04Z', 'account': 'org_usd', "
    "'headers': {'Authorization': 'Bearer tok_single_quoted'}, 'body': {'eventSlug': 'claim-check', 'quantity': 1}}",
    # 5 unquoted keys: not JSON
    '{receivedAt: "2026-10-03T12:00:05Z", account: "org_usd", headers: {x-api-key: tok_unquoted_keys, accept: "*/*"}, '
    'body: {eventSlug: "claim-check", quantity: 1}}',
    # 6 escapes in a line that is not JSON: \x and \u spellings, and a name split by an escape
    "{'receivedAt': '2026-10-03T12:00:06Z', 'headers': {'\\x41uthorization': 'tok_hex_escape', "
    "'set-\\u0063ookie': \"tok_u_escape\"}, body: {}}",
    # 7 an unterminated credential value ends the line
    '{"receivedAt": "2026-10-03T12:00:07Z", "account": "org_usd", "headers": {"Proxy-Authorization": "tok_truncated',
    # 8 headers as an array of pairs (invalid_envelope)
    '{"receivedAt": "2026-10-03T12:00:08Z", "account": "org_usd", '
    '"headers": [["x-api-key", "tok_pair_list"]], "body": ' + BODY + '}',
]
SECRETS = ["tok_dup_first", "tok_dup_second", "tok_escaped_name", "tok_string_headers", "tok_single_quoted",
           "tok_unquoted_keys", "tok_hex_escape", "tok_u_escape", "tok_truncated", "tok_pair_list",
           "tok_numbers"]

# A quarantined line (unknown customer) whose numbers, key order and spacing must survive redaction.
NUMBERS_LINE = ('{"receivedAt":"2026-10-03T12:00:09Z",  "headers" : {"X-API-KEY":"tok_numbers" , "n": 1e2},'
                '"body":{"eventType":"message-sent","customerAlias":"alias-nobody",'
                '"eventProperties":{"length":1.50,"big":1E+2,"neg":-0.0}}}')
# Billed lines without headers whose body has a property named cookie: data, stored byte for byte.
COOKIE_LINE = ('{"receivedAt": "2026-10-03T12:00:10Z", "body": {"eventType": "cookie-jar", '
               '"customerAlias": "alias-usd", "eventProperties": {"cookie": 2.50, "Authorization": "data"}}}')
PAYGENTIC_LINE = ('{"receivedAt": "2026-10-03T12:00:11Z", "body": {"events": [{"idempotencyKey": "k-1", '
                  '"customerId": "cust-usd", "merchantId": "m1", "timestamp": "2026-10-05T12:00:00Z", '
                  '"properties": [{"billableMetricId": "requests", "quantity": 3.0}], '
                  '"metadata": {"cookie": "chocolate", "set-cookie": 1.50}}]}}')

REFERENCE_WITH_COOKIES = {
    "meters.csv": REFERENCE["meters.csv"] + "sequence,cookie-jar,cookies,sum,cookie\n",
    "prices.csv": REFERENCE["prices.csv"] + "cookies,,USD,1,,\n",
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """One `tally run` over every spelling, on an ephemeral Dagster instance."""
    from dagster_project.runner import run_pipeline

    tmp = tmp_path_factory.mktemp("credentials")
    raw = tmp / "raw"
    write_dump(raw, SH, SAMPLEHC_LINES)
    write_dump(raw, SEQ, [NUMBERS_LINE, COOKIE_LINE])
    write_dump(raw, PG, [PAYGENTIC_LINE])
    reference = write_reference(tmp / "reference", REFERENCE_WITH_COOKIES)
    db = tmp / "out" / "warehouse.duckdb"
    instance = dg.DagsterInstance.ephemeral()
    run_pipeline(raw, reference, db, instance=instance)
    return tmp, db, instance


def _tables_as_text(path: Path) -> dict[str, str]:
    """Every table and view of a DuckDB file, each as the text of all its rows."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [row[0] for row in con.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
        assert names
        return {name: repr(con.sql(f'SELECT * FROM "{name}"').fetchall()) for name in names}
    finally:
        con.close()


def test_no_secret_in_the_published_or_working_database(pipeline):
    tmp, db, _ = pipeline
    state = db.with_name(db.stem + ".state.duckdb")
    for path in (db, state):
        assert path.exists()
        for table, text in _tables_as_text(path).items():
            leaked = [secret for secret in SECRETS if secret in text]
            assert leaked == [], (path.name, table, leaked)


def test_no_secret_in_any_file_written(pipeline):
    tmp, db, _ = pipeline
    written = [p for p in (tmp / "out").rglob("*") if p.is_file()]
    assert db in written
    for path in written:
        data = path.read_bytes()
        assert [s for s in SECRETS if s.encode() in data] == [], path


def test_no_secret_in_the_dagster_event_log(pipeline):
    _, _, instance = pipeline
    runs = instance.get_runs()
    assert runs
    for run_record in runs:
        logs = instance.all_logs(run_record.run_id)
        assert logs
        text = "\n".join(dg.serialize_value(entry) for entry in logs)
        assert [s for s in SECRETS if s in text] == [], run_record.job_name


def test_outcomes_and_what_is_stored(pipeline):
    _, db, _ = pipeline
    con = duckdb.connect(str(db), read_only=True)
    try:
        outcomes = dict(((f, n), (o, r)) for f, n, o, r in con.sql(
            "SELECT source_file, line_number, outcome, reason FROM usage_events WHERE property_index = 0").fetchall())
        raw = dict(((f, n), text) for f, n, text in con.sql(
            "SELECT source_file, line_number, raw FROM quarantine").fetchall())
        cookies = con.sql("SELECT quantity, amount FROM invoice_lines WHERE metric_id = 'cookies'").fetchall()
    finally:
        con.close()
    assert outcomes == {
        (SH, 1): ("billed", None), (SH, 2): ("billed", None),
        (SH, 3): ("quarantined", "invalid_envelope"), (SH, 4): ("quarantined", "invalid_json"),
        (SH, 5): ("quarantined", "invalid_json"), (SH, 6): ("quarantined", "invalid_json"),
        (SH, 7): ("quarantined", "invalid_json"), (SH, 8): ("quarantined", "invalid_envelope"),
        (SEQ, 1): ("quarantined", "unknown_customer"), (SEQ, 2): ("billed", None),
        (PG, 1): ("billed", None),
    }
    # A body property named cookie is data: billed as it was sent.
    assert cookies == [(Decimal("2.5"), Decimal("2.50"))]
    assert raw[(SH, 3)] == SAMPLEHC_LINES[2].replace('"Authorization: Bearer tok_string_headers"', '"[REDACTED]"')
    assert raw[(SH, 8)] == SAMPLEHC_LINES[7].replace('[["x-api-key", "tok_pair_list"]]', '"[REDACTED]"')
    assert raw[(SH, 4)] == SAMPLEHC_LINES[3].replace("'Bearer tok_single_quoted'", '"[REDACTED]"')
    assert raw[(SH, 5)] == SAMPLEHC_LINES[4].replace("tok_unquoted_keys", '"[REDACTED]"')
    assert raw[(SH, 6)] == SAMPLEHC_LINES[5].replace("'tok_hex_escape'", '"[REDACTED]"').replace(
        '"tok_u_escape"', '"[REDACTED]"')
    assert raw[(SH, 7)].endswith('{"Proxy-Authorization": "[REDACTED]"')
    # Numbers keep their spelling, and nothing but the credential changes.
    assert raw[(SEQ, 1)] == NUMBERS_LINE.replace('"tok_numbers"', '"[REDACTED]"')


def test_raw_lines_are_stored_byte_for_byte_but_for_credentials(pipeline):
    _, db, _ = pipeline
    con = duckdb.connect(str(db.with_name(db.stem + ".state.duckdb")), read_only=True)
    try:
        stored = dict(((f, n), e) for table in ("raw_samplehc", "raw_sequence", "raw_paygentic")
                      for f, n, e in con.sql(f"SELECT source_file, line_number, envelope FROM {table}").fetchall())
    finally:
        con.close()
    assert stored[(SEQ, 2)] == COOKIE_LINE
    assert stored[(PG, 1)] == PAYGENTIC_LINE
    assert stored[(SH, 1)] == SAMPLEHC_LINES[0].replace('"Bearer tok_dup_first"', '"[REDACTED]"').replace(
        '"sid=tok_dup_second"', '"[REDACTED]"')
    assert stored[(SH, 2)] == SAMPLEHC_LINES[1].replace('"Bearer tok_escaped_name"', '"[REDACTED]"')


@pytest.mark.parametrize("line", [3, 4, 5, 6, 7, 8])
def test_explain_prints_no_credential(pipeline, line, capsys):
    from dagster_project.cli import main

    _, db, _ = pipeline
    for extra in ([], ["--json"]):
        assert main(["explain", f"{SH}:{line}", "--db", str(db), *extra]) == 0
        out = capsys.readouterr().out
        assert "[REDACTED]" in out
        assert [s for s in SECRETS if s in out] == []


def test_explain_redacts_a_warehouse_written_before_this_redaction(pipeline, tmp_path, capsys):
    """A warehouse published by an older tally may hold a credential its redaction missed: explain
    redacts what it prints again."""
    import shutil

    from dagster_project.cli import main

    _, db, _ = pipeline
    copy = tmp_path / "old.duckdb"
    shutil.copy(db, copy)
    con = duckdb.connect(str(copy))
    con.execute("UPDATE quarantine_lines SET raw = ? WHERE source_file = ? AND line_number = 3",
                [SAMPLEHC_LINES[2], SH])
    con.close()
    assert main(["explain", f"{SH}:3", "--db", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "tok_string_headers" not in out and "[REDACTED]" in out


# --- the redactor on its own: exact results ------------------------------------------------------

EXACT = [
    # valid JSON: only top-level headers, every copy, names decoded and case-folded; bytes kept
    ('{"headers": {"a": 1.50, "AUTHORIZATION" :  "s"}, "body": {"cookie": 1e2}}',
     '{"headers": {"a": 1.50, "AUTHORIZATION" :  "[REDACTED]"}, "body": {"cookie": 1e2}}'),
    ('{"headers":{"cookie":"s1"},"headers":{"Cookie":"s2","cookie":["s3"]}}',
     '{"headers":{"cookie":"[REDACTED]"},"headers":{"Cookie":"[REDACTED]","cookie":"[REDACTED]"}}'),
    ('{"head\\u0065rs": {"\\u0078-api-key": "s", "x-api-key-id": "kept"}}',
     '{"head\\u0065rs": {"\\u0078-api-key": "[REDACTED]", "x-api-key-id": "kept"}}'),
    ('{"headers": {"x-api-\u212aey": "s", "\u017fet-cookie": "s"}}',
     '{"headers": {"x-api-\u212aey": "[REDACTED]", "\u017fet-cookie": "[REDACTED]"}}'),
    ('{"headers": {"x-forwarded": {"Cookie": "s"}, "idempotency-key": "cookie-1"}}',
     '{"headers": {"x-forwarded": "[REDACTED]", "idempotency-key": "cookie-1"}}'),
    ('{"headers": "x-\\u0061pi-key=s", "n": 1.0}', '{"headers": "[REDACTED]", "n": 1.0}'),
    ('{"headers": "nothing here", "n": 1.0}', '{"headers": "nothing here", "n": 1.0}'),
    ('{"headers": null, "cookie": "data"}', '{"headers": null, "cookie": "data"}'),
    ('{"body": {"headers": {"cookie": "data"}}}', '{"body": {"headers": {"cookie": "data"}}}'),
    ('{"headers": {"Authorization": "s", "n": 1e400}}', '{"headers": {"Authorization": "[REDACTED]", "n": 1e400}}'),
    # valid JSON but not an object: its structure is not an envelope's, so it is redacted leniently
    ('[{"headers": {"authorization": "s"}}]', '[{"headers": {"authorization": "[REDACTED]"}}]'),
    # not JSON
    ('{"headers": {"Cookie": "s"},}', '{"headers": {"Cookie": "[REDACTED]"},}'),
    ('{"q": NaN, "headers": {"cookie": "s"}}', '{"q": NaN, "headers": {"cookie": "[REDACTED]"}}'),
    ("{'authorization' : 'it\\'s'}", "{'authorization' : \"[REDACTED]\"}"),
    ('{authorization: Bearer s, x: 1}', '{authorization: "[REDACTED]", x: 1}'),
    ('{"set-cookie": ["a=s", "b=\\"]s"], "x": 1,}', '{"set-cookie": "[REDACTED]", "x": 1,}'),
    ('{"cookie": {"a": "}", "b": [1]}, "x": 1,}', '{"cookie": "[REDACTED]", "x": 1,}'),
    ('{"x-api-key": [1, 2', '{"x-api-key": "[REDACTED]"'),
    ('{"x-api-key": \'s', '{"x-api-key": "[REDACTED]"'),
    ('{"\\u0041uthorization": "s",}', '{"\\u0041uthorization": "[REDACTED]",}'),
    ('{"\\u{41}uthorization": "s",}', '{"\\u{41}uthorization": "[REDACTED]",}'),
    ('{"p": "{\\"Cookie\\": \\"s\\"}",}', '{"p": "{\\"Cookie\\": "[REDACTED]"}",}'),
    ('{"p": "{\\\\\\"x-\\\\u0061pi-key\\\\\\": 1}",}', '{"p": "{\\\\\\"x-\\\\u0061pi-key\\\\\\": "[REDACTED]"}",}'),
    ('{"headers": [["Proxy-Authorization", "s"]],}', '{"headers": [["Proxy-Authorization", "[REDACTED]"]],}'),
    ('{"headers": "Authorization: Bearer s", x}', '{"headers": "Authorization: "[REDACTED]", x}'),
    ('not json at all', 'not json at all'),
]


@pytest.mark.parametrize(("line", "expected"), EXACT)
def test_redact_line_exactly(line, expected):
    assert redact_line(line) == expected
    assert redact_line(expected) == expected  # idempotent: explain redacts stored lines again


def test_a_line_that_is_not_utf8_is_redacted_leniently():
    line = '{"headers": {"cookie": "s"}, "body": {"cookie": "data\ufffd"}}'
    assert redact_line(line, utf8_valid=False) == (
        '{"headers": {"cookie": "[REDACTED]"}, "body": {"cookie": "[REDACTED]"}}')


@pytest.mark.parametrize(("line", "expected"), EXACT)
def test_the_prefilter_passes_every_line_redaction_changes(line, expected):
    frame = pl.DataFrame({"envelope": [line, '{"q": 1.50}'], "utf8_valid": [True, True]})
    assert redact_lines(frame)["envelope"].to_list() == [expected, '{"q": 1.50}']


def test_the_prefilter_is_a_superset_for_every_spelling_of_a_name():
    """A name can be spelled without a backslash only with its letters in some case: every character
    whose case folding is an ASCII letter of a name, put in its place, still matches the prefilter."""
    letters = set("authorizationproxysetcookiexapikey")
    folding = {c: [c, c.upper()] for c in letters}
    for code in range(0x80, sys.maxunicode + 1):
        char = chr(code)
        for folded in (char.casefold(), char.lower()):
            if folded in letters:
                folding[folded].append(char)
                break
    names = ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"]
    spellings = [name[:i] + variant + name[i + 1:] for name in names for i, c in enumerate(name) if c in folding
                 for variant in folding[c]]
    assert "\u017f" in folding["s"] and "\u212a" in folding["k"]  # long s, Kelvin sign
    lines = [f'{{"headers": {{"{spelling}": "s"}}}}' for spelling in spellings]
    matched = pl.select(may_hold_credential(pl.Series(lines))).to_series()
    assert matched.all()
    assert all("[REDACTED]" in redact_line(line) for line in lines)


FLAT_SHAPED = [
    '{"receivedAt": "t", "headers": {"idempotency-key": "k", "authorization": "Bearer s"}, "body": {"q": 1.50}}',
    '{"headers" :{ "Cookie" : "s", "cookie":"t" }, "body": {"cookie": "data"}}',
    '{"headers": {"x-api-\u212aey": "s"}, "b": "\u00e9"}',
    '{"note": "headers", "headers": {"authorization": "s"}}',
    '{"body": {"headers": {"authorization": "data"}}, "headers": {"x": "y"}}',
    '{"body": {"headers": {"authorization": "data"}}}',
    '[{"headers": {"authorization": "s"}}]',
    '{"Headers": {"authorization": "s"}}',
    '{"headers": {"authorization": "s"}, "HEADERS": {"cookie": "t"}}',
    '{"headers": {"authorization": 12}}',
    '{"headers": {"authorization": "s", "x-authorization-id": "i"}}',
    '{"headers": {" authorization": "s"}}',
    '{"headers": {"authorization": "cookie"}}',
    "{'a': 1, \"headers\": {\"authorization\": \"s\"}}",
    '{"headers": {"authorization": "s"},}',
    '{"headers": {"authorization": "s"}, "q": NaN}',
    '{"headers": {"authorization": "s", "x": ["cookie"]}}',
    '"headers": {"authorization": "s"}',
    '{"a": {"b": 1}, "headers": {"set-cookie": "s"}} trailing',
]


@pytest.mark.parametrize("line", FLAT_SHAPED + [line for line, _ in EXACT])
def test_the_polars_path_gives_what_redact_line_gives(line):
    from transforms.raw.redact_flat import redact_flat

    flat = redact_flat(pl.Series([line])).item()
    assert flat is None or flat == redact_line(line)


def test_the_common_shape_takes_the_polars_path():
    from transforms.raw.redact_flat import redact_flat

    taken = redact_flat(pl.Series(FLAT_SHAPED[:4])).is_not_null().to_list()
    # a body property named cookie, or "headers" first seen as a value, leave the line to redact_line
    assert taken == [True, False, True, False]


_TOKENS = ['{', '}', '[', ']', '"headers"', '"Headers"', ':', ',', ' ', '"authorization"', '"Cookie"',
           '"x-api-\u212aey"', '"v"', '"cookie-v"', "'", "1.50", '\\"', "\u00e9", "null", "cookie", "=", '"body"']


@settings(max_examples=400, deadline=None)
@given(tokens=st.lists(st.sampled_from(_TOKENS), max_size=30),
       document=st.recursive(
           st.one_of(st.sampled_from(["s", "cookie", "x", "headers"]), st.integers(), st.none()),
           lambda inner: st.one_of(
               st.lists(inner, max_size=3),
               st.dictionaries(st.sampled_from(["headers", "Authorization", "cookie", "x-api-key", "body", "a"]),
                               inner, max_size=4)),
           max_leaves=12))
def test_the_polars_path_agrees_with_redact_line_on_any_line(tokens, document):
    from transforms.raw.redact_flat import redact_flat

    lines = ["".join(tokens), json.dumps(document), json.dumps(document, separators=(",", ":"))]
    for line, flat in zip(lines, redact_flat(pl.Series(lines)).to_list(), strict=True):
        assert flat is None or flat == redact_line(line), line


# --- re-delivery beyond 28 significant digits, and a deterministic detail ---------------------------

def _sequence_line(received: str, number: str) -> str:
    """A number in the captured response, which tally does not read: in the body it would be quarantined
    as not exactly readable (test_numbers_beyond_a_double_are_quarantined_not_rounded)."""
    return ('{"receivedAt": "' + received + '", "body": {"eventType": "message-sent", "customerAlias": "alias-usd", '
            '"eventProperties": {"length": 3}}, "response": {"status": 200, "body": {"n": ' + number + '}}}')


def test_numbers_that_differ_after_the_28th_digit_are_not_a_redelivery(tmp_path):
    received = "2026-10-03T12:00:00Z"
    write_dump(tmp_path / "raw", SEQ, [
        _sequence_line(received, "1.00000000000000000000000000001"),
        _sequence_line(received, "1.00000000000000000000000000002"),
        _sequence_line(received, "1.000000000000000000000000000010"),  # the first one, spelled otherwise
    ])
    r = run(tmp_path)
    assert r.outcome(SEQ, 1) == ("billed", None)
    assert r.outcome(SEQ, 2) == ("billed", None)
    assert r.outcome(SEQ, 3) == ("duplicate", None)


def test_canonical_json_is_exact_for_any_length():
    from transforms.intermediate.canonical_json import canonical_json

    digits = "1." + "0" * 60
    assert canonical_json(f"[{digits}1]") != canonical_json(f"[{digits}2]")
    assert canonical_json(f"[{digits}1]") == canonical_json(f"[{digits}10e0]")
    assert canonical_json("[1.50, 0.0, -0]") == canonical_json("[15e-1, 0, 0.000]")
    assert canonical_json("[1e999999999]") != canonical_json("[1e999999998]")


def _paygentic_event_with_unmetered_properties(tmp_path):
    event = {"idempotencyKey": "k", "customerId": "cust-usd", "merchantId": "m1", "timestamp": "2026-10-05T12:00:00Z",
             "properties": [{"billableMetricId": "tokens", "quantity": 1}]
             + [{"billableMetricId": f"no-meter-{i}", "quantity": 1} for i in range(5)]}
    write_dump(tmp_path / "raw", PG, [{"receivedAt": "2026-10-03T12:00:00Z", "body": {"events": [event]}}])
    return run(tmp_path)


def test_the_detail_of_an_event_names_its_first_unmetered_property(tmp_path):
    r = _paygentic_event_with_unmetered_properties(tmp_path)
    details = r.con.sql("SELECT DISTINCT outcome, detail FROM usage_events").fetchall()
    assert details == [("unmetered", "no meter for paygentic event type no-meter-0")]


def test_the_detail_does_not_depend_on_the_order_the_lines_are_read_in(tmp_path):
    """Metering sees a record's lines in whatever order the scan gives them (threads, row groups);
    read here in reverse, the record's detail still names its first unmetered property."""
    import transforms.intermediate as intermediate
    from transforms.sql_files import read_sql

    con = _paygentic_event_with_unmetered_properties(tmp_path).con
    con.execute("SET threads = 1")
    for order in ("ASC", "DESC"):
        con.execute(f"""CREATE OR REPLACE TEMP VIEW meter_input AS
                        SELECT * FROM int_resolved_lines ORDER BY property_index {order}""")
        con.execute(read_sql(intermediate.__file__, "meter_checks.sql"))
        details = con.sql(f"SELECT DISTINCT detail FROM ({read_sql(intermediate.__file__, 'metered_lines.sql')})")
        assert details.fetchall() == [("no meter for paygentic event type no-meter-0",)], order
