"""The documented warehouse: comments on everything, docs/warehouse.md up to date and runnable, and the
analyst views (revenue month over month, billed usage by metric, quarantine reasons, lineage both
ways) giving exact numbers, also after an incremental publish.

Expected numbers are worked out by hand from SPEC and ``harness.REFERENCE``: c_usd (USD, UTC) pays claims
0.50 before 2026-10-15 and 0.55 from then, pings 0.01, tokens 0.002, requests 1, active_users 4.00 on the
first day of October, api_calls 0.02; c_bhd (BHD, Asia/Bahrain, 3 decimals) pays claims 0.125.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from harness import envelope, write_dump, write_reference

from transforms.contracts import OUTCOMES, REASONS
from transforms.marts import QUARANTINE_TABLES
from transforms.marts.description import ANALYST_VIEWS
from dagster_project.dictionary import (
    DOC,
    REGENERATE,
    build_sample_warehouse,
    dictionary,
    render,
)
from dagster_project.runner import run_pipeline
from harness import dagster_instance
from transforms.warehouse import DOCUMENT_TABLES, PUBLISHED_TABLES, connect_state, file_identity, publish

SQL_BLOCKS = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
OBJECTS = """
    SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main'
    UNION ALL
    SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal
"""


def read_only(db: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db), read_only=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------------
# The shipped sample's warehouse: comments, the generated dictionary, the documented queries


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return build_sample_warehouse(tmp_path_factory.mktemp("sample"))


def test_every_table_view_and_column_has_a_comment(sample):
    with read_only(sample) as con:
        objects = dict(con.sql(OBJECTS).fetchall())
        columns = con.sql("SELECT table_name, column_name, comment FROM duckdb_columns() "
                          "WHERE schema_name = 'main' AND NOT internal").fetchall()
    assert set(objects) == {*PUBLISHED_TABLES, *QUARANTINE_TABLES, *DOCUMENT_TABLES, *ANALYST_VIEWS}
    assert [name for name, comment in objects.items() if not (comment or "").strip()] == []
    assert {table for table, _, _ in columns} == set(objects)
    assert [(t, c) for t, c, comment in columns if not (comment or "").strip()] == []


def test_comments_name_every_outcome_and_reason(sample):
    with read_only(sample) as con:
        comments = dict(con.sql("SELECT table_name || '.' || column_name, comment FROM duckdb_columns() "
                                "WHERE column_name IN ('outcome', 'reason')").fetchall())
    for column, comment in comments.items():
        for value in OUTCOMES if column.endswith("outcome") else REASONS:
            assert value in comment, (column, value)


def test_the_dictionary_in_the_docs_is_up_to_date(sample):
    document = DOC.read_text(encoding="utf-8")
    with read_only(sample) as con:
        wanted = render(document, dictionary(con))
    assert wanted == document, f"docs/warehouse.md is out of date: run {REGENERATE}"


@pytest.mark.parametrize("query", SQL_BLOCKS, ids=[f"query{i}" for i in range(len(SQL_BLOCKS))])
def test_every_query_in_the_docs_runs(sample, query):
    with read_only(sample) as con:
        rows = con.execute(query).fetchall()
    assert rows, f"the documented query returns nothing on the sample:\n{query}"


def test_the_docs_show_the_common_queries():
    assert len(SQL_BLOCKS) >= 10
    used = " ".join(SQL_BLOCKS)
    for name in ("invoices", *ANALYST_VIEWS, "quarantine", "usage_events"):
        assert re.search(rf"\bFROM {name}\b", used), f"no documented query reads {name}"


# ---------------------------------------------------------------------------------------------------
# The views on a small dump, over two loads: the second one is published incrementally

def shc(slug: str, quantity, occurred: str, received: str, account: str = "org_usd", key: str | None = None):
    headers = {"idempotency-key": key} if key else None
    fields = {"headers": headers} if headers else {}
    return envelope({"eventSlug": slug, "quantity": quantity, "occurredAt": occurred}, received,
                    account=account, **fields)


def pg_event(key: str, *properties: tuple[str, int], customer: str = "cust-usd") -> dict:
    return {"idempotencyKey": key, "customerId": customer, "merchantId": "m1", "timestamp": "2026-10-05T12:00:00Z",
            "properties": [{"billableMetricId": m, "quantity": q} for m, q in properties]}


def seq(event_type: str, received: str, **fields) -> dict:
    return envelope({"customerAlias": "alias-usd", "eventType": event_type, "eventTimestamp": "2026-10-06T12:00:00Z",
                     **fields}, received)


FIRST_LOAD = {
    "samplehc/sep.jsonl": [
        shc("claim-check", 10, "2026-09-10T12:00:00Z", "2026-09-10T12:00:00Z", key="k-1"),   # 1 billed Sep 5.00
        shc("claim-check", 4, "2026-09-11T12:00:00Z", "2026-09-11T12:00:00Z", key="k-1"),    # 2 duplicate of 1
        shc("claim-check", 6, "2026-10-05T12:00:00Z", "2026-10-05T12:00:00Z", key="k-2"),    # 3 Oct 6 x 0.50
        shc("claim-check", 2, "2026-10-20T12:00:00Z", "2026-10-20T12:00:00Z"),               # 4 Oct 2 x 0.55
        shc("claim-check", 1, "2026-10-21T12:00:00Z", "2026-10-21T12:00:00Z", account="org_nobody"),  # 5
        "{oops",                                                                                # 6 invalid_json
        shc("claim-check", 3, "2026-09-15T12:00:00Z", "2026-09-15T12:00:00Z", account="org_bhd"),  # 7 BHD 0.375
        shc("ping", 5, "2026-10-07T12:00:00Z", "2026-10-07T12:00:00Z"),                      # 8 count: 1 x 0.01
    ],
    "paygentic/oct.jsonl": [
        envelope({"events": [pg_event("p1", ("tokens", 100), ("tokens", 50), ("requests", 3)),
                             pg_event("p2", ("tokens", 1000))]}, "2026-10-05T13:00:00Z"),
    ],
    "sequence/oct.jsonl": [
        seq("login", "2026-10-06T12:00:00Z", eventProperties={"user": "u1"}),
        seq("login", "2026-10-06T12:01:00Z", eventProperties={"user": "u2"}),
        seq("login", "2026-10-06T12:02:00Z", eventProperties={"user": "u1"}),
        seq("api-call", "2026-10-06T12:03:00Z", customerEventId="e1"),   # 4 superseded by 5
        seq("api-call", "2026-10-06T12:04:00Z", customerEventId="e1"),   # 5 billed 0.02
    ],
}
SECOND_LOAD = {
    "samplehc/nov.jsonl": [
        shc("claim-check", 8, "2026-11-03T12:00:00Z", "2026-11-03T12:00:00Z", account="org_bhd"),  # 8 x 0.125
        shc("claim-check", 10, "2026-10-25T12:00:00Z", "2026-11-01T12:00:00Z"),                    # 10 x 0.55
    ],
}


class Installation:
    """Dump folders, reference data, working database and published warehouse under ``root``."""

    def __init__(self, root: Path):
        self.root, self.raw, self.db = root, root / "raw", root / "warehouse.duckdb"
        self.reference = write_reference(root / "reference")

    def copy(self, root: Path) -> Installation:
        shutil.copytree(self.root, root)
        return Installation(root)

    def load(self, files: dict[str, list]) -> bool:
        """Write the dump files, run the chain and publish; returns whether the warehouse changed."""
        for relative, lines in files.items():
            write_dump(self.raw, relative, lines)
        return self.publish(run_first=True)

    def publish(self, run_first: bool = False) -> bool:
        """`tally run` (``run_first``), or publishing alone; whether the published file was replaced."""
        if run_first:
            before = file_identity(self.db)
            run_pipeline(self.raw, self.reference, self.db, instance=dagster_instance())
            return file_identity(self.db) != before
        with connect_state(self.db) as con:
            return publish(con, self.db)

    def sql(self, query: str) -> list[tuple]:
        with read_only(self.db) as con:
            return con.sql(query).fetchall()

    def state(self, query: str) -> list[tuple]:
        with connect_state(self.db) as con:
            return con.sql(query).fetchall()


@pytest.fixture(scope="module")
def loads(tmp_path_factory) -> Installation:
    """An installation after the first load (do not change it: copy it)."""
    site = Installation(tmp_path_factory.mktemp("first") / "site")
    assert site.load(FIRST_LOAD)
    return site


def D(text: str) -> Decimal:
    return Decimal(text)


def test_first_load_month_over_month(loads):
    rows = loads.sql("SELECT customer_id, currency, period_start::VARCHAR, invoice_id, total, previous_total, change "
                     "FROM revenue_month_over_month ORDER BY ALL")
    assert rows == [
        ("c_bhd", "BHD", "2026-09-01", "INV-202609-c_bhd", D("0.375"), D(0), D("0.375")),
        ("c_bhd", "BHD", "2026-10-01", None, D(0), D("0.375"), D("-0.375")),   # no invoice in October
        ("c_usd", "USD", "2026-09-01", "INV-202609-c_usd", D("5.00"), D(0), D("5.00")),
        # claims 3.00 + 1.10, pings 0.01, tokens 1150 x 0.002 = 2.30, requests 3.00, active_users 2 x 4.00,
        # api_calls 0.02
        ("c_usd", "USD", "2026-10-01", "INV-202610-c_usd", D("17.43"), D("5.00"), D("12.43")),
    ]
    assert loads.sql("SELECT total FROM invoices WHERE invoice_id = 'INV-202610-c_usd'") == [(D("17.43"),)]


def test_first_load_billed_usage_by_metric(loads):
    rows = loads.sql("SELECT metric_id, aggregation, period_start::VARCHAR, currency, customers, invoice_lines, "
                     "events, quantity, amount FROM billed_usage_by_metric ORDER BY ALL")
    assert rows == [
        ("active_users", "unique_count", "2026-10-01", "USD", 1, 1, 3, D(2), D("8.00")),
        ("api_calls", "count", "2026-10-01", "USD", 1, 1, 1, D(1), D("0.02")),
        ("claims", "sum", "2026-09-01", "BHD", 1, 1, 1, D(3), D("0.375")),
        ("claims", "sum", "2026-09-01", "USD", 1, 1, 1, D(10), D("5.00")),
        ("claims", "sum", "2026-10-01", "USD", 1, 2, 2, D(8), D("4.10")),    # two unit prices: two lines
        ("pings", "count", "2026-10-01", "USD", 1, 1, 1, D(1), D("0.01")),
        ("requests", "sum", "2026-10-01", "USD", 1, 1, 1, D(3), D("3.00")),
        ("tokens", "sum", "2026-10-01", "USD", 1, 1, 2, D(1150), D("2.30")),
    ]


def test_first_load_quarantine_reasons(loads):
    assert loads.sql("SELECT * FROM quarantine_reasons ORDER BY ALL") == [
        ("samplehc", "invalid_json", 1, 1, "samplehc/sep.jsonl:6:0", "the line is not JSON"),
        ("samplehc", "unknown_customer", 1, 1, "samplehc/sep.jsonl:5:0",
         "customer key org_nobody is not in customer_keys.csv"),
    ]


def test_invoice_line_records_add_up_to_every_invoice_line(loads):
    """Each invoice line's records give its quantity by its aggregation and its event count."""
    rows = loads.sql("""
        SELECT l.invoice_id, l.metric_id, l.unit_price, l.quantity, l.event_count,
            CASE l.aggregation WHEN 'max' THEN max(r.quantity)
                               WHEN 'unique_count' THEN count(DISTINCT r.distinct_value)
                               ELSE sum(r.quantity) END,
            count(DISTINCT r.record_id), count(r.line_quantity) = count(*)
        FROM invoice_lines l
        LEFT JOIN invoice_line_records r USING (invoice_id, metric_id, unit_price)
        GROUP BY l.invoice_id, l.metric_id, l.unit_price, l.quantity, l.event_count, l.aggregation""")
    assert len(rows) == 9
    for invoice, metric, price, quantity, events, from_records, records, joined in rows:
        assert (from_records, records, joined) == (quantity, events, True), (invoice, metric, price)
    billed_lines = loads.sql("SELECT count(*) FROM usage_events WHERE outcome = 'billed'")
    assert loads.sql("SELECT count(*) FROM invoice_line_records") == billed_lines


def test_invoice_line_records_of_a_line(loads):
    rows = loads.sql("""
        SELECT record_id, property_index, quantity, unit_price, price_source, line_quantity, line_amount,
            line_event_count
        FROM invoice_line_records
        WHERE invoice_id = 'INV-202610-c_usd' AND metric_id = 'tokens' ORDER BY ALL""")
    tokens = (D("0.002"), "price_book", D(1150), D("2.30"), 2)
    assert rows == [
        ("paygentic/oct.jsonl:1:0", 0, D(100), *tokens),
        ("paygentic/oct.jsonl:1:0", 1, D(50), *tokens),
        ("paygentic/oct.jsonl:1:1", 0, D(1000), *tokens),
    ]


def test_record_outcomes_has_one_row_per_record(loads):
    (records, distinct, reconciled), = loads.sql(
        "SELECT count(*), count(DISTINCT record_id), (SELECT sum(records) FROM reconciliation) FROM record_outcomes")
    assert records == distinct == reconciled == 15
    by_outcome = loads.sql("SELECT outcome, count(*) FROM record_outcomes GROUP BY ALL ORDER BY ALL")
    assert by_outcome == [("billed", 11), ("duplicate", 1), ("quarantined", 2), ("superseded", 1)]


def test_record_outcomes_say_what_decided_a_record(loads):
    rows = loads.sql("""
        SELECT record_id, outcome, reason, decided_by, decided_by_outcome, decided_by_invoice_id, invoice_id,
            usage_lines, metric_ids
        FROM record_outcomes
        WHERE record_id IN ('samplehc/sep.jsonl:2:0', 'sequence/oct.jsonl:4:0', 'samplehc/sep.jsonl:5:0',
                            'paygentic/oct.jsonl:1:0')
        ORDER BY record_id""")
    assert rows == [
        ("paygentic/oct.jsonl:1:0", "billed", None, None, None, None, "INV-202610-c_usd",
         3, ["tokens", "tokens", "requests"]),
        ("samplehc/sep.jsonl:2:0", "duplicate", None, "samplehc/sep.jsonl:1:0", "billed", "INV-202609-c_usd", None,
         1, ["claims"]),
        ("samplehc/sep.jsonl:5:0", "quarantined", "unknown_customer", None, None, None, None, 1, ["claims"]),
        ("sequence/oct.jsonl:4:0", "superseded", None, "sequence/oct.jsonl:5:0", "billed", "INV-202610-c_usd", None,
         1, ["api_calls"]),
    ]


def test_views_and_comments_survive_an_incremental_publish(loads, tmp_path):
    site = loads.copy(tmp_path / "site")
    assert site.load(SECOND_LOAD)
    assert site.state("SELECT full_rebuild FROM int_changes ORDER BY change_id DESC LIMIT 1") == [(False,)]
    assert site.sql("SELECT customer_id, period_start::VARCHAR, total, previous_total, change "
                     "FROM revenue_month_over_month ORDER BY ALL") == [
        ("c_bhd", "2026-09-01", D("0.375"), D(0), D("0.375")),
        ("c_bhd", "2026-10-01", D(0), D("0.375"), D("-0.375")),
        ("c_bhd", "2026-11-01", D("1.000"), D(0), D("1.000")),
        ("c_usd", "2026-09-01", D("5.00"), D(0), D("5.00")),
        ("c_usd", "2026-10-01", D("22.93"), D("5.00"), D("17.93")),   # + 10 claims x 0.55
        ("c_usd", "2026-11-01", D(0), D("22.93"), D("-22.93")),
    ]
    assert site.sql("SELECT count(*), (SELECT sum(records) FROM reconciliation) FROM record_outcomes") == [(17, 17)]
    undocumented = site.sql("SELECT table_name, column_name FROM duckdb_columns() "
                             "WHERE schema_name = 'main' AND NOT internal AND coalesce(comment, '') = ''")
    assert undocumented == []
    views = site.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1")
    assert views == sorted((v,) for v in (*ANALYST_VIEWS, "quarantine"))


def test_nothing_pending_leaves_the_file_untouched_until_the_views_change(loads, tmp_path):
    site = loads.copy(tmp_path / "site")
    before = sha256(site.db)
    assert site.publish() is False
    assert sha256(site.db) == before
    # A warehouse published with other views or comments (an upgrade) is republished without new data.
    site.state("UPDATE int_published_description SET sha256 = 'older'")
    assert site.publish() is True
    assert site.publish() is False
    assert site.sql("SELECT count(*) FROM duckdb_views() WHERE NOT internal") == [(len(ANALYST_VIEWS) + 1,)]
    assert site.sql("SELECT sum(total) FROM invoices") == [(D("22.805"),)]


def test_a_file_published_with_the_quarantine_as_one_table_is_written_whole(loads, tmp_path):
    """A warehouse published when ``quarantine`` was a table (each record with its raw line) has no
    ``quarantine_lines`` to change in place: the next publication writes the file whole."""
    site = loads.copy(tmp_path / "site")
    expected = site.sql("SELECT * FROM quarantine ORDER BY ALL")
    with duckdb.connect(str(site.db)) as con:
        con.execute("DROP VIEW quarantine_reasons; DROP VIEW quarantine")
        con.execute("CREATE TABLE quarantine AS SELECT q.*, l.raw FROM quarantine_records q "
                    "JOIN quarantine_lines l USING (source, source_file, line_number)")
        con.execute("DROP TABLE quarantine_records; DROP TABLE quarantine_lines")
    assert site.load(SECOND_LOAD)
    assert site.sql("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'quarantine%' ORDER BY 1") == [
        ("quarantine_lines",), ("quarantine_records",)]
    assert site.sql("SELECT * FROM quarantine ORDER BY ALL") == expected
