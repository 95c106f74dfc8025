"""`tally run` as a user runs it (SPEC §5, §6): a subprocess over a copy of the shipped sample data.

The expected numbers are the ones data/SAMPLE.md works out by hand. One run over the sample is shared by
the module; tests that run again work on a copy of that run's folder (dumps, reference, published
warehouse and working database), so they start from "a warehouse was published before".
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
TALLY = Path(sys.executable).with_name("tally")
SECRETS = ["sk_test_123", "sk_test_pg_456", "tula_test_key_789", "dGVzdF9rZXk6dGVzdF9zZWNyZXQ="]

RECONCILIATION = {  # source: records, billed, duplicate, superseded, voided, rejected_by_vendor, unmetered, quarantined
    "samplehc": (27, 17, 4, 0, 0, 0, 1, 5),
    "tula": (23, 11, 1, 4, 1, 0, 1, 5),
    "sequence": (28, 18, 1, 2, 1, 0, 1, 5),
    "paygentic": (21, 11, 3, 0, 0, 3, 1, 3),
}
OUTCOME_COLUMNS = ("records", "billed", "duplicate", "superseded", "voided", "rejected_by_vendor",
                   "unmetered", "quarantined")

INVOICES = {  # (customer, period_start): currency, total, line_count, event_count
    ("acme", date(2026, 9, 1)): ("USD", Decimal("71.52"), 9, 17),
    ("acme", date(2026, 10, 1)): ("USD", Decimal("48.96"), 4, 7),
    ("globex", date(2026, 9, 1)): ("EUR", Decimal("24.19"), 5, 4),
    ("globex", date(2026, 10, 1)): ("EUR", Decimal("37.41"), 7, 8),
    ("initech", date(2026, 9, 1)): ("USD", Decimal("0.00"), 1, 1),
    ("initech", date(2026, 10, 1)): ("USD", Decimal("16.27"), 3, 3),
    ("kyoto", date(2026, 9, 1)): ("JPY", Decimal("2837"), 7, 6),
    ("kyoto", date(2026, 10, 1)): ("JPY", Decimal("1108"), 6, 7),
    ("manama", date(2026, 10, 1)): ("BHD", Decimal("7.354"), 4, 4),
}

# customer, period, metric, unit_price, quantity, amount, event_count (SAMPLE.md "Expected invoices")
LINES = textwrap.dedent("""\
    acme 2026-09 active_users 4.00 3 12.00 4
    acme 2026-09 api_calls 0.0025 2 0.00 2
    acme 2026-09 claims_checked 0.50 29 14.50 4
    acme 2026-09 eligibility_checks 1.00 2 2.00 2
    acme 2026-09 gb_transferred 0.09 12.75 1.15 1
    acme 2026-09 images_generated 0.125 10 1.25 1
    acme 2026-09 llm_ktokens_in 0.003 400 1.20 1
    acme 2026-09 llm_ktokens_out 0.015 120 1.80 1
    acme 2026-09 peak_storage_gb 0.25 150.5 37.62 2
    acme 2026-10 active_users 4.00 2 8.00 2
    acme 2026-10 claims_checked 0.50 20 10.00 1
    acme 2026-10 claims_checked 0.55 13 7.15 2
    acme 2026-10 peak_storage_gb 0.25 95.25 23.81 2
    globex 2026-09 assessments 15.00 1 15.00 1
    globex 2026-09 eligibility_checks 1.10 1 1.10 1
    globex 2026-09 images_generated 0.125 2 0.25 1
    globex 2026-09 llm_ktokens_in 0.0028 1250.5 3.50 1
    globex 2026-09 llm_ktokens_out 0.014 310.25 4.34 1
    globex 2026-10 assessments 15.00 1 15.00 1
    globex 2026-10 claims_checked 0.45 6 2.70 1
    globex 2026-10 eligibility_checks 1.10 2 2.20 2
    globex 2026-10 encounters 4.1225 2 8.24 1
    globex 2026-10 encounters 4.20 2 8.40 1
    globex 2026-10 llm_ktokens_in 0.0028 100 0.28 1
    globex 2026-10 llm_ktokens_out 0.014 42 0.59 1
    initech 2026-09 claims_checked 0.50 0 0.00 1
    initech 2026-10 claims_checked 0.50 10 5.00 1
    initech 2026-10 claims_checked 0.55 20 11.00 1
    initech 2026-10 gb_transferred 0.09 3 0.27 1
    kyoto 2026-09 claims_checked 70 6 420 1
    kyoto 2026-09 encounters 12.5 5 62 1
    kyoto 2026-09 encounters 480 2 960 1
    kyoto 2026-09 gb_transferred 13.5 40.5 547 1
    kyoto 2026-09 images_generated 12.5 3 38 1
    kyoto 2026-09 llm_ktokens_in 0.45 800 360 1
    kyoto 2026-09 llm_ktokens_out 2.25 200 450 1
    kyoto 2026-10 api_calls 0.3 2 1 2
    kyoto 2026-10 claims_checked 70 7 490 1
    kyoto 2026-10 encounters 12.5 3 38 1
    kyoto 2026-10 encounters 480 1 480 1
    kyoto 2026-10 gb_transferred 13.5 7.25 98 1
    kyoto 2026-10 llm_ktokens_in 0.45 3 1 1
    manama 2026-10 claims_checked 0.1275 3 0.382 1
    manama 2026-10 encounters 0.125 2.5 0.312 1
    manama 2026-10 llm_ktokens_in 0.00113 4000 4.520 2
    manama 2026-10 llm_ktokens_out 0.0057 375.5 2.140 1
""")

SPEC_COLUMNS = {  # SPEC §5, "columns at least"
    "invoices": ["invoice_id", "customer_id", "period_start", "period_end", "currency", "total", "line_count",
                 "event_count"],
    "invoice_lines": ["invoice_id", "customer_id", "period_start", "metric_id", "unit_price", "quantity", "amount",
                      "currency", "event_count"],
    "usage_events": ["source", "source_file", "line_number", "record_index", "customer_id", "metric_id",
                     "occurred_at", "quantity", "unit_price", "price_source", "period_start", "outcome", "reason"],
    "quarantine": ["source", "source_file", "line_number", "record_index", "reason", "detail", "raw"],
    "reconciliation": ["source", "records", "billed", "duplicate", "superseded", "voided", "rejected_by_vendor",
                       "unmetered", "quarantined"],
}
DECIMAL_COLUMNS = {"invoices": ["total"], "invoice_lines": ["unit_price", "quantity", "amount"],
                   "usage_events": ["quantity", "unit_price"]}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "DAGSTER_HOME"))}
    return {**env, **extra}


def tally(*args: str, cwd: Path, env: dict | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(TALLY), "run", *args], cwd=cwd, env=env or clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def sample_copy(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "data" / "raw", folder / "raw")
    shutil.copytree(REPO / "data" / "reference", folder / "reference")
    return folder


def paths_args(folder: Path) -> list[str]:
    return ["--raw-dir", str(folder / "raw"), "--reference-dir", str(folder / "reference"),
            "--db", str(folder / "out" / "warehouse.duckdb")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_only(db: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db), read_only=True)


def invoices(db: Path) -> dict:
    with read_only(db) as con:
        return {(c, p): (cur, t, lc, ec) for c, p, cur, t, lc, ec in con.sql(
            "SELECT customer_id, period_start, currency, total, line_count, event_count FROM invoices").fetchall()}


def invoice_ids_and_numbers(db: Path) -> list[tuple]:
    with read_only(db) as con:
        return con.sql("SELECT * FROM invoices ORDER BY invoice_id").fetchall() + con.sql(
            "SELECT * FROM invoice_lines ORDER BY invoice_id, metric_id, unit_price").fetchall()


def raw_line_counts(db: Path) -> list[tuple]:
    """Lines loaded per raw table of the working database beside the warehouse."""
    with read_only(db.with_name(db.stem + ".state.duckdb")) as con:
        tables = [t for (t,) in con.sql("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'raw%' "
                                         "ORDER BY 1").fetchall()]
        assert tables
        return [(t, con.sql(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]) for t in tables]


def new_october_usage(folder: Path) -> None:
    """A new dump file with billed usage: any publish after it changes the warehouse."""
    (folder / "raw" / "samplehc" / "2026-10" / "part-3.jsonl").write_text(
        '{"receivedAt": "2026-10-28T10:00:00Z", "account": "org_acme", "body": {"eventSlug": "claim-check", '
        '"quantity": 4, "occurredAt": "2026-10-28T09:00:00Z"}}\n', encoding="utf-8")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """One `tally run` over a copy of the shipped sample, on an empty warehouse."""
    folder = sample_copy(tmp_path_factory.mktemp("sample"))
    proc = tally(*paths_args(folder), cwd=folder)
    return folder, proc


@pytest.fixture
def published(sample_run, tmp_path):
    """A private copy of the sample run's folder: a warehouse was published before."""
    folder, proc = sample_run
    assert proc.returncode == 0, proc.stderr
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy


# ---------------------------------------------------------------------------------------------------
# The sample run


def test_sample_run_succeeds_and_prints_summary(sample_run):
    folder, proc = sample_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "records by outcome" in out
    expected = {"records": 99, "billed": 57, "duplicate": 9, "superseded": 6, "voided": 2,
                "rejected_by_vendor": 3, "unmetered": 4, "quarantined": 18}
    for name, value in expected.items():
        assert re.search(rf"^\s*{name}\s+{value}\s*$", out, re.M), f"summary lacks {name} {value}:\n{out}"
    assert re.search(r"invoices written: 9\b", out), out
    assert (folder / "out" / "warehouse.duckdb").is_file()


def test_reconciliation_matches_sample_md(sample_run):
    folder, _ = sample_run
    with read_only(folder / "out" / "warehouse.duckdb") as con:
        rows = con.sql(f"SELECT source, {', '.join(OUTCOME_COLUMNS)} FROM reconciliation").fetchall()
    assert {r[0]: tuple(r[1:]) for r in rows} == RECONCILIATION


def test_invoices_match_sample_md(sample_run):
    folder, _ = sample_run
    db = folder / "out" / "warehouse.duckdb"
    assert invoices(db) == INVOICES
    with read_only(db) as con:
        periods = con.sql("SELECT customer_id, period_start, period_end FROM invoices").fetchall()
        lines = con.sql(
            """SELECT customer_id, strftime(period_start, '%Y-%m'), metric_id, unit_price, quantity, amount, event_count
               FROM invoice_lines ORDER BY ALL""").fetchall()
        orphan = con.sql("""SELECT count(*) FROM invoice_lines l
                            WHERE NOT EXISTS (SELECT 1 FROM invoices i WHERE i.invoice_id = l.invoice_id
                                              AND i.customer_id = l.customer_id AND i.period_start = l.period_start
                                              AND i.currency = l.currency)""").fetchall()[0][0]
    for customer, start, end in periods:  # exclusive end: the first day of the next month
        assert end == date(start.year + start.month // 12, start.month % 12 + 1, 1), (customer, start, end)
    expected = sorted(
        (c, p, m, Decimal(u), Decimal(q), Decimal(a), int(n))
        for c, p, m, u, q, a, n in (line.split() for line in LINES.splitlines()))
    assert len(expected) == 46
    assert sorted(lines) == expected
    assert orphan == 0


def test_published_tables_and_types(sample_run):
    folder, _ = sample_run
    with read_only(folder / "out" / "warehouse.duckdb") as con:
        columns = {}
        for table, column, data_type in con.sql(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main'").fetchall():
            columns.setdefault(table, {})[column] = data_type
    for table, wanted in SPEC_COLUMNS.items():
        assert table in columns, f"{table} is not in the published warehouse"
        missing = [c for c in wanted if c not in columns[table]]
        assert missing == [], (table, missing)
        floats = {c: t for c, t in columns[table].items() if re.search(r"DOUBLE|FLOAT|REAL", t)}
        assert floats == {}, (table, floats)
    for table, names in DECIMAL_COLUMNS.items():
        for name in names:
            assert columns[table][name].startswith("DECIMAL"), (table, name, columns[table][name])
    assert columns["invoices"]["period_start"] == "DATE" and columns["invoices"]["period_end"] == "DATE"


def test_no_credential_anywhere(sample_run):
    folder, _ = sample_run
    out = folder / "out"
    for db in (out / "warehouse.duckdb", out / "warehouse.state.duckdb"):
        with read_only(db) as con:
            tables = con.sql("SELECT database_name, schema_name, table_name FROM duckdb_tables()").fetchall()
            tables += con.sql("SELECT database_name, schema_name, view_name FROM duckdb_views() "
                              "WHERE NOT internal").fetchall()
            assert tables
            for catalog, schema, table in tables:
                text = repr(con.sql(f'SELECT * FROM "{catalog}"."{schema}"."{table}"').fetchall())
                for secret in SECRETS:
                    assert secret not in text, f"{secret} stored in {db.name}:{table}"
        data = db.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} in the bytes of {db.name}"
    with read_only(out / "warehouse.duckdb") as con:
        raw = con.sql("SELECT raw FROM quarantine WHERE source_file = 'samplehc/2026-10/part-1.jsonl.gz' "
                      "AND line_number = 5").fetchall()
    assert len(raw) == 1 and '"[REDACTED]"' in raw[0][0], raw


# ---------------------------------------------------------------------------------------------------
# Running again


def test_second_run_changes_nothing(published):
    db = published / "out" / "warehouse.duckdb"
    before = invoice_ids_and_numbers(db)
    with read_only(db) as con:
        usage_before = con.sql("SELECT * FROM usage_events ORDER BY ALL").fetchall()
    raw_before = raw_line_counts(db)
    proc = tally(*paths_args(published), cwd=published)
    assert proc.returncode == 0, proc.stderr
    assert raw_line_counts(db) == raw_before, "files loaded before were loaded again"
    assert invoice_ids_and_numbers(db) == before
    with read_only(db) as con:
        assert con.sql("SELECT * FROM usage_events ORDER BY ALL").fetchall() == usage_before
    assert invoices(db) == INVOICES
    assert "invoices written: 0 (months: none); in the warehouse: 9" in proc.stdout, proc.stdout


def test_environment_variables(published, tmp_path):
    """TALLY_RAW_DIR / TALLY_REFERENCE_DIR / TALLY_DB are used when the options are not given."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    db = tmp_path / "env-out" / "wh.duckdb"
    env = clean_env(TALLY_RAW_DIR=str(published / "raw"), TALLY_REFERENCE_DIR=str(published / "reference"),
                    TALLY_DB=str(db))
    proc = tally(cwd=elsewhere, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert invoices(db) == INVOICES
    assert not (elsewhere / "data").exists(), "the defaults were used instead of the environment"


def loaded_files(db: Path) -> list[str]:
    con = duckdb.connect(str(db.with_name("warehouse.state.duckdb")), read_only=True)
    try:
        return sorted(row[0] for row in con.sql("SELECT source_file FROM raw_files").fetchall())
    finally:
        con.close()


def test_bad_reference_fails_and_keeps_warehouse(published):
    db = published / "out" / "warehouse.duckdb"
    before = sha256(db)
    loaded_before = loaded_files(db)
    customers = published / "reference" / "customers.csv"
    rows = customers.read_text(encoding="utf-8").splitlines()
    duplicate_row = len(rows) + 1  # the header is row 1
    customers.write_text("\n".join(rows + ["globex,Globex Again,EUR,Europe/Berlin"]) + "\n", encoding="utf-8")
    new_october_usage(published)

    proc = tally(*paths_args(published), cwd=published)
    assert proc.returncode != 0
    message = proc.stderr
    assert re.search(rf"customers\.csv\W+row {duplicate_row}\b.*duplicate", message, re.I), message
    assert "globex" in message
    assert sha256(db) == before, "a failed run replaced the published warehouse"
    assert not list(db.parent.glob("*.tmp*")), "a half-written warehouse was left behind"
    assert loaded_files(db) == loaded_before, "dumps were loaded although the reference data is invalid"

    # Once the file is fixed, the next run bills everything, the new dump included.
    customers.write_text("\n".join(rows) + "\n", encoding="utf-8")
    proc = tally(*paths_args(published), cwd=published)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = dict(INVOICES)
    currency, total, line_count, events = expected[("acme", date(2026, 10, 1))]
    expected[("acme", date(2026, 10, 1))] = (currency, total + Decimal("2.20"), line_count, events + 1)
    assert invoices(db) == expected


def test_run_while_analyst_holds_warehouse_open(published):
    db = published / "out" / "warehouse.duckdb"
    analyst = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""\
            import sys, duckdb
            con = duckdb.connect({str(db)!r}, read_only=True)
            print(con.sql("SELECT count(*), sum(event_count) FROM invoices").fetchall(), flush=True)
            sys.stdin.readline()   # hold the file open until told to go on
            print(con.sql("SELECT count(*), sum(event_count) FROM invoices").fetchall(), flush=True)
            print(con.sql("SELECT sum(records) FROM reconciliation").fetchall(), flush=True)
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = analyst.stdout.readline().strip()
        assert first == "[(9, 57)]", first or analyst.stderr.read()
        new_october_usage(published)
        started = time.monotonic()
        proc = tally(*paths_args(published), cwd=published)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert time.monotonic() - started < 120
        out, err = analyst.communicate("go\n", timeout=60)
    finally:
        if analyst.poll() is None:
            analyst.kill()
    assert analyst.returncode == 0, err
    # The analyst's session keeps working (whether it reads the run it opened or the new one).
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0] in ("[(9, 57)]", "[(9, 58)]") and lines[1] in ("[(99,)]", "[(100,)]"), out + err
    # A new session sees the new run: one more billed record on acme's October invoice.
    now = invoices(db)
    assert now[("acme", date(2026, 10, 1))][3] == 8
    with read_only(db) as con:
        assert con.sql("SELECT sum(records), sum(billed) FROM reconciliation").fetchall() == [(100, 58)]


def test_missing_raw_dir_fails_clearly(tmp_path):
    folder = sample_copy(tmp_path / "t")
    missing = folder / "no-such-dir"
    db = folder / "out" / "warehouse.duckdb"
    proc = tally("--raw-dir", str(missing), "--reference-dir", str(folder / "reference"), "--db", str(db),
                 cwd=folder)
    assert proc.returncode != 0
    message = proc.stderr
    assert str(missing) in message and re.search(r"does not exist|not found|no such", message, re.I), message
    assert "Traceback" not in message, message
    assert not db.exists(), "a warehouse was published from a run that could not read its dumps"
