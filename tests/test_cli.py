"""`tally run` as a user runs it (SPEC §5, §6): a subprocess over a copy of the shipped sample data.

The expected numbers are the ones data/SAMPLE.md works out by hand. One run over the sample is shared by
the module; tests that run again work on a copy of that run's folder (dumps, reference, published
warehouse and working database), so they start from "a warehouse was published before".
"""

from __future__ import annotations

import argparse
import hashlib
import json
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
    ("kyoto", date(2026, 9, 1)): ("JPY", Decimal(2837), 7, 6),
    ("kyoto", date(2026, 10, 1)): ("JPY", Decimal(1108), 6, 7),
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
    return subprocess.run([str(TALLY), "run", *args], check=False, cwd=cwd, env=env or clean_env(), capture_output=True,
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
        assert re.search(rf"^\s*{name}\s+{value}\s*$", out, re.MULTILINE), f"summary lacks {name} {value}:\n{out}"
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


def test_second_run_changes_nothing(published, tmp_path):
    db = published / "out" / "warehouse.duckdb"
    before = invoice_ids_and_numbers(db)
    with read_only(db) as con:
        usage_before = con.sql("SELECT * FROM usage_events ORDER BY ALL").fetchall()
    raw_before = raw_line_counts(db)
    temp = tmp_path / "temp"
    temp.mkdir()
    proc = tally(*paths_args(published), cwd=published, env=clean_env(TMPDIR=str(temp)))
    assert proc.returncode == 0, proc.stderr
    # The command ends without the interpreter's teardown (cli.entry), but its output is all there and
    # the exit handlers ran: the ephemeral Dagster instance's temporary folder is gone.
    assert proc.stdout.rstrip().endswith(f"warehouse: {db}"), proc.stdout
    assert list(temp.iterdir()) == []
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
    customers.write_text("\n".join(rows + ["globex,Globex Again,EUR,Europe/Berlin,,"]) + "\n", encoding="utf-8")
    new_october_usage(published)

    proc = tally(*paths_args(published), cwd=published)
    assert proc.returncode != 0
    message = proc.stderr
    assert re.search(rf"customers\.csv\W+row {duplicate_row}\b.*duplicate", message, re.IGNORECASE), message
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
    assert str(missing) in message and re.search(r"does not exist|not found|no such", message, re.IGNORECASE), message
    assert "Traceback" not in message, message
    assert not db.exists(), "a warehouse was published from a run that could not read its dumps"


def test_missing_reference_dir_fails_before_anything_runs(tmp_path):
    folder = sample_copy(tmp_path / "t")
    missing = folder / "no-reference"
    db = folder / "out" / "warehouse.duckdb"
    proc = tally("--raw-dir", str(folder / "raw"), "--reference-dir", str(missing), "--db", str(db), cwd=folder)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"tally run: reference directory {missing} does not exist",
        ("Pass --reference-dir DIR or set TALLY_REFERENCE_DIR to the folder with customers.csv, customer_keys.csv, "
         "meters.csv, prices.csv and statuses.csv; nothing was run."),
    ]
    assert not db.parent.exists(), "a run started although its reference data is missing"


@pytest.mark.parametrize("value", ["lots", "10XB", ""])
def test_bad_memory_limit_is_refused_before_anything_runs(tmp_path, value):
    folder = sample_copy(tmp_path / "t")
    proc = tally(*paths_args(folder), "--memory-limit", value, cwd=folder)
    assert proc.returncode == 2
    assert f"argument --memory-limit: invalid memory limit {value!r}" in proc.stderr, proc.stderr
    assert "use a size such as 512MB, 4GB or 2GiB" in proc.stderr
    assert not (folder / "out").exists()
    env_proc = tally(*paths_args(folder), cwd=folder, env=clean_env(TALLY_MEMORY_LIMIT=value or "lots"))
    assert env_proc.returncode == 2 and "invalid memory limit" in env_proc.stderr


def test_missing_raw_dir_says_what_to_do(tmp_path):
    folder = sample_copy(tmp_path / "t")
    proc = tally("--raw-dir", str(folder / "nope"), "--reference-dir", str(folder / "reference"),
                 "--db", str(folder / "out" / "w.duckdb"), cwd=folder)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"tally run: raw directory {folder / 'nope'} does not exist",
        ("Pass --raw-dir DIR or set TALLY_RAW_DIR to the folder with one subfolder per source (samplehc, tula, "
         "sequence, paygentic); nothing was run."),
    ]


def test_invalid_reference_data_says_what_to_do(published):
    customers = published / "reference" / "customers.csv"
    customers.write_text(customers.read_text(encoding="utf-8") + "globex,Globex Again,EUR,Europe/Berlin,,\n",
                         encoding="utf-8")
    proc = tally(*paths_args(published), cwd=published)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == f"tally run failed: invalid reference data in {published / 'reference'}:", proc.stderr
    assert re.fullmatch(r"customers\.csv, row \d+: .*duplicate.*globex.*", lines[1], re.IGNORECASE), lines
    assert lines[-1].startswith("Fix these rows of the reference CSVs and run tally again; no dump was loaded. "
                                "Nothing was published"), lines
    assert "Traceback" not in proc.stderr and "dagster._core" not in proc.stderr


# ---------------------------------------------------------------------------------------------------
# The command line itself


def test_commands_that_run_no_job_start_without_importing_dagster(tmp_path):
    """status, explain, invoice and --help answer without Dagster (about a second of imports): only run
    and close import it, when they start a job."""
    code = textwrap.dedent("""
        import sys
        from dagster_project.cli import main
        codes = [main(["status", "--db", sys.argv[1]]), main(["explain", "INV-202610-c_usd", "--db", sys.argv[1]]),
                 main(["invoice", "INV-202610-c_usd", "--db", sys.argv[1]])]
        print(codes, "dagster" in sys.modules)  # status: nothing run yet (0); explain, invoice: no warehouse (1)
    """)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "none.duckdb")], check=False,
                          capture_output=True, text=True, timeout=60, env=clean_env())
    assert proc.stdout.splitlines()[-1] == "[0, 1, 1] False", proc.stdout + proc.stderr


def test_help_lists_every_command_option_and_environment_variable():
    from dagster_project.cli import build_parser

    proc = subprocess.run([str(TALLY), "--help"], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    parser = build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == {"run", "close", "status", "explain", "invoice", "generate"}
    for name in commands.choices:
        assert re.search(rf"^    {name}\s+\S", proc.stdout, re.MULTILINE), f"{name} is not listed:\n{proc.stdout}"
    for variable in ("TALLY_RAW_DIR", "TALLY_REFERENCE_DIR", "TALLY_DB", "TALLY_MEMORY_LIMIT", "TALLY_DOCUMENTS_DIR",
                     "TALLY_CONTROL_DIR", "DAGSTER_HOME"):
        assert variable in proc.stdout
    assert "examples:" in proc.stdout and "tally explain INV-202610-acme" in proc.stdout
    for name, sub in commands.choices.items():
        assert sub.description, name
        for action in sub._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
        sub_help = subprocess.run([str(TALLY), name, "--help"], check=False, capture_output=True, text=True, timeout=60)
        assert sub_help.returncode == 0
        for action in sub._actions:
            for option in action.option_strings:
                assert option in sub_help.stdout, (name, option)


def test_an_unknown_command_exits_2():
    proc = subprocess.run([str(TALLY), "bill"], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "invalid choice: 'bill'" in proc.stderr


def test_plain_progress_lines_when_not_a_terminal(sample_run):
    _, proc = sample_run
    out = proc.stdout
    for line in ("▸ raw_tables", "    loaded 12 new dump files, skipped 0 already loaded", "  ✓ raw_tables",
                 "  · check pandera_contract on raw/paygentic: passed", "▸ publish__warehouse",
                 "  ✓ publish__warehouse"):
        assert line in out.splitlines(), f"{line!r} not in:\n{out}"
    assert "loaded dump file" not in out, "per-file progress is for the progress bars only"
    assert "\x1b[" not in out


def run_in_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run tally with a pseudo-terminal as its standard output, as a person at a terminal would."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([str(TALLY), *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                            env=clean_env(COLUMNS="120", TERM="xterm-256color"), close_fds=True)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=180)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, b"".join(chunks).decode("utf-8", errors="replace")


def test_progress_bars_on_a_terminal(tmp_path):
    folder = sample_copy(tmp_path / "t")
    code, out = run_in_terminal(["run", *paths_args(folder)], folder)
    assert code == 0, out
    assert "\x1b[" in out, "no terminal control sequences: the progress display did not run"
    assert "step raw_tables" in out and "step publish__warehouse" in out, out[-3000:]
    assert "14/14" in out, "the steps bar does not count the run's 14 asset steps"
    assert "12/12" in out, "the raw load's files bar did not reach the 12 sample files"
    assert "  ✓ raw_tables" in out and "records by outcome" in out
    assert re.search(r"invoices written: 9\b", out)


# ---------------------------------------------------------------------------------------------------
# tally status


def status(db: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(TALLY), "status", "--db", str(db), *args], check=False, capture_output=True, text=True,
                          env=env or clean_env(), timeout=120)


def test_status_before_anything_ran(tmp_path):
    db = tmp_path / "out" / "warehouse.duckdb"
    proc = status(db)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Nothing has been run yet: there is no warehouse at {db}. Run `tally run`")
    assert not (tmp_path / "out").exists(), "status created files"
    data = json.loads(status(db, "--json").stdout)
    assert (data["state"], data["published"]) == (None, None) and data["note"].startswith("Nothing has been run")


def test_status_after_a_run(sample_run):
    folder, _ = sample_run
    db = folder / "out" / "warehouse.duckdb"
    before = sha256(db)
    proc = status(db)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for pattern in [
        r"^Loaded dump files \(.*warehouse\.state\.duckdb\)$",
        r"^samplehc\s+3\s+27\s+[\d.]+ kB\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",  # 29 lines, 2 of them blank
        r"^paygentic\s+3\s+10\s", r"^all\s+12\s+88\s",
        (r"^Last run: #1 .*, succeeded after [\d.]+ s: loaded 12 files \(88 lines\), recomputed every record, "
         r"invoiced 2026-09, 2026-10 \(9 invoices\), published the warehouse$"),
        r"^Waiting: nothing; the published warehouse is up to date with what is loaded\.$",
        r"^Published warehouse: .*warehouse\.duckdb, published .*, 9 invoices over 99 records$",
        r"^samplehc\s+27\s+17\s+4\s+0\s+0\s+0\s+1\s+5$", r"^tula\s+23\s+11\s+1\s+4\s+1\s+0\s+1\s+5$",
        r"^all\s+99\s+57\s+9\s+6\s+2\s+3\s+4\s+18$",
        r"^2026-09\s+USD\s+2\s+71\.52\s+10\s+18$", r"^2026-09\s+JPY\s+1\s+2,837\s+7\s+6$",
        r"^2026-10\s+BHD\s+1\s+7\.354\s+4\s+4$", r"^2026-10\s+USD\s+2\s+65\.23\s+7\s+10$",
    ]:
        assert re.search(pattern, out, re.MULTILINE), f"{pattern!r} not in:\n{out}"
    data = json.loads(status(db, "--json").stdout)
    assert [(r["source"], r["files"], r["lines"]) for r in data["state"]["loaded"]] == [
        ("samplehc", 3, 27), ("tula", 3, 23), ("sequence", 3, 28), ("paygentic", 3, 10)]
    assert [(r["source"], r["records"]) for r in data["published"]["reconciliation"]] == [
        (s, v[0]) for s, v in RECONCILIATION.items()]
    assert data["state"]["runs"][0]["succeeded"] is True and data["state"]["unpublished"] is False
    assert sha256(db) == before


def test_status_and_a_second_run_while_a_run_is_in_progress(published):
    db = published / "out" / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""\
            import sys
            from pathlib import Path
            from dagster_project import run_lock
            with run_lock.exclusive(Path({str(db)!r})):
                print("held", flush=True)
                sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
        started = time.monotonic()
        proc = status(db)
        assert time.monotonic() - started < 30, "status waited for the run"
        assert proc.returncode == 0, proc.stderr
        assert f"A tally run is in progress (pid {holder.pid}, started " in proc.stdout, proc.stdout
        assert "Loaded dump files" not in proc.stdout
        assert re.search(r"^all\s+99\s+57\s", proc.stdout, re.MULTILINE), "the published warehouse is not shown"
        second = tally(*paths_args(published), cwd=published)
        assert second.returncode == 1
        assert f"tally run failed: another tally run (pid {holder.pid}, started " in second.stderr, second.stderr
        assert "wait for it to finish" in second.stderr
    finally:
        holder.communicate("go\n", timeout=30)
    assert tally(*paths_args(published), cwd=published).returncode == 0, "the lock outlived its run"


def test_a_locked_working_database(published):
    """Another process writing the working database: status says so, a run waits a little, then says what to do."""
    db = published / "out" / "warehouse.duckdb"
    state = db.with_name("warehouse.state.duckdb")
    before = sha256(db)
    new_october_usage(published)
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""\
            import sys, duckdb
            con = duckdb.connect({str(state)!r})
            print("open", flush=True)
            sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "open", writer.stderr.read()
        proc = status(db)
        assert proc.returncode == 0
        assert f"The working database {state} is locked by another process (PID {writer.pid})" in proc.stdout
        assert re.search(r"^all\s+99\s+57\s", proc.stdout, re.MULTILINE)
        run = tally(*paths_args(published), cwd=published)
        assert run.returncode == 1
        assert f"tally run failed: the working database {state.resolve()} is locked by another process " \
               f"(PID {writer.pid})" in run.stderr, run.stderr
        assert "Wait for it to finish (or close that session) and run tally again." in run.stderr
    finally:
        writer.communicate("go\n", timeout=30)
    assert sha256(db) == before
    assert tally(*paths_args(published), cwd=published).returncode == 0


def test_a_failed_blocking_check_says_what_to_do_and_status_shows_it(published, monkeypatch, capsys):
    import polars as pl

    from dagster_project.cli import main
    from transforms import contracts

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    real = contracts.failures
    monkeypatch.setattr(contracts, "failures", lambda schema, frame: pl.DataFrame(
        {"failure_case": ["forced by the test"], "check": ["test"]}) if schema is contracts.INVOICES
        else real(schema, frame))
    db = published / "out" / "warehouse.duckdb"
    before = sha256(db)
    new_october_usage(published)
    capsys.readouterr()
    assert main(["run", *paths_args(published)]) == 1
    err = capsys.readouterr().err
    assert "tally run failed: blocking checks failed: marts/invoices:pandera_contract" in err, err
    assert "marts/invoices:pandera_contract (1 row fails it); the first of them:" in err
    assert "forced by the test" in err
    assert "Nothing was published: the warehouse file is left as it was." in err
    assert "tally explain FILE:LINE" in err
    assert sha256(db) == before

    out = status(db).stdout
    assert re.search(r"^Last run: #2 .*, FAILED after [\d.]+ s: loaded 1 file \(1 line\), recomputed the records "
                     r"they affect, published nothing\. Failure: blocking checks failed: "
                     r"marts/invoices:pandera_contract$", out, re.MULTILINE), out
    assert re.search(r"^  before: #1 .*, succeeded", out, re.MULTILINE)
    assert re.search(r"^Waiting: the invoices of 2026-10 are to be rebuilt; results are not yet published\. "
                     r"Run `tally run` to finish\.$", out, re.MULTILINE), out

    # The next run rebuilds October and checks it again before it publishes anything.
    monkeypatch.setattr(contracts, "failures", real)
    assert main(["run", *paths_args(published)]) == 0
    assert "invoices written: 5 (months: 2026-10); in the warehouse: 9" in capsys.readouterr().out
    assert invoices(db)[("acme", date(2026, 10, 1))][3] == 8


def test_status_shows_the_newest_dagster_run_with_dagster_home(tmp_path):
    folder = sample_copy(tmp_path / "t")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("", encoding="utf-8")
    env = clean_env(DAGSTER_HOME=str(home))
    assert tally(*paths_args(folder), cwd=folder, env=env).returncode == 0
    proc = status(folder / "out" / "warehouse.duckdb", env=env)
    assert proc.returncode == 0, proc.stderr
    assert re.search(rf"^Dagster instance \({re.escape(str(home))}\): newest run [0-9a-f-]{{36}} of job invoice, "
                     r"SUCCESS, started \d{4}-\d\d-\d\d ", proc.stdout, re.MULTILINE), proc.stdout
    assert "Dagster instance" not in status(folder / "out" / "warehouse.duckdb").stdout
