"""Builds small dumps and reference sets in a temp folder and runs tally on them the way `tally run` does:
through the Dagster definitions, in process, with every contract and check, publishing the warehouse."""

from __future__ import annotations

import gzip
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from dagster_project.runner import Summary, run_pipeline
from transforms.warehouse import connect_state

REFERENCE = {
    "customers.csv": """customer_id,name,currency,timezone
c_usd,USD Corp,USD,
c_ny,New York Inc,USD,America/New_York
c_jpy,Tokyo KK,JPY,Asia/Tokyo
c_bhd,Manama WLL,BHD,Asia/Bahrain
c_eur,Berlin GmbH,EUR,Europe/Berlin
""",
    "customer_keys.csv": """source,source_customer_key,customer_id
samplehc,org_usd,c_usd
samplehc,org_ny,c_ny
samplehc,org_jpy,c_jpy
samplehc,org_bhd,c_bhd
tula,Clinic USD,c_usd
tula,clinic-ny,c_ny
tula,clinic-jpy,c_jpy
sequence,alias-usd,c_usd
sequence,alias-eur,c_eur
sequence,alias-jpy,c_jpy
paygentic,cust-usd,c_usd
paygentic,cust-bhd,c_bhd
paygentic,cust-eur,c_eur
""",
    "meters.csv": """source,event_type,metric_id,aggregation,property
samplehc,claim-check,claims,sum,
samplehc,ping,pings,count,
samplehc,storage,storage_peak,max,
tula,Visit,visits,sum,
tula,Seat,seats,max,
sequence,message-sent,characters,sum,length
sequence,api-call,api_calls,count,
sequence,login,active_users,unique_count,user
sequence,disk,disk_peak,max,gigabytes
paygentic,tokens,tokens,sum,
paygentic,requests,requests,sum,
paygentic,unpriced,unpriced,sum,
""",
    "prices.csv": """metric_id,customer_id,currency,unit_price,effective_from,effective_to
claims,,USD,0.50,,2026-10-15
claims,,USD,0.55,2026-10-15,
claims,c_ny,USD,0.40,,
claims,,JPY,60,,
claims,,BHD,0.125,,
pings,,USD,0.01,,
storage_peak,,USD,2,,
visits,,USD,10,,
visits,,JPY,1500,,
seats,,USD,3,,
characters,,USD,0.001,,
characters,,EUR,0.001,,
characters,,JPY,0.15,,
api_calls,,USD,0.02,,
api_calls,,EUR,0.02,,
active_users,,USD,4.00,,2026-10-10
active_users,,USD,4.50,2026-10-10,
active_users,,EUR,4.00,,
disk_peak,,USD,1.5,,
tokens,,USD,0.002,,
tokens,,BHD,0.0005,,
tokens,,EUR,0.002,,
requests,,USD,1,,
requests,,BHD,0.1,,
""",
    "statuses.csv": """source,status,effect
tula,Unknown,bill
tula,Billable,bill
tula,Cancelled,void
""",
}


def write_reference(folder: Path, overrides: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**REFERENCE, **(overrides or {})}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def envelope(body, received_at: str = "2026-10-03T12:00:00Z", **fields) -> dict:
    """An envelope as SPEC §1 shows it; `fields` adds account, path, headers or response."""
    return {"receivedAt": received_at, **fields, "body": body}


def write_dump(raw_dir: Path, relative: str, lines: list, gz: bool = False) -> Path:
    """Write a dump file; dict/list lines are JSON-encoded, str lines are written as they are."""
    path = raw_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    data = text.encode("utf-8")
    if gz:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


@dataclass
class Result:
    """What a run left: ``con`` on its working database (the analyst tables and views, and every layer)."""

    con: duckdb.DuckDBPyConnection
    summary: Summary | None = None

    def table(self, name: str, order: str = "") -> pl.DataFrame:
        return self.con.sql(f"SELECT * FROM {name} {order}").pl()

    def outcomes(self) -> dict[tuple[str, int, int], tuple[str, str | None]]:
        """(source_file, line_number, record_index) -> (outcome, reason), one entry per record."""
        rows = self.con.sql(
            "SELECT DISTINCT source_file, line_number, record_index, outcome, reason FROM usage_events"
        ).fetchall()
        result = {}
        for file, line, index, outcome, reason in rows:
            assert (file, line, index) not in result, f"record {file}:{line}:{index} has two outcomes"
            result[(file, line, index)] = (outcome, reason)
        return result

    def outcome(self, source_file: str, line: int, index: int = 0) -> tuple[str, str | None]:
        return self.outcomes()[(source_file, line, index)]

    def invoices(self) -> dict[str, tuple]:
        """invoice_id -> (total, line_count, event_count) as exact Decimals and ints."""
        return {r[0]: r[1:] for r in self.con.sql(
            "SELECT invoice_id, total, line_count, event_count FROM invoices ORDER BY 1").fetchall()}

    def invoice_lines(self) -> list[tuple]:
        """(invoice_id, metric_id, unit_price, quantity, amount, event_count), sorted."""
        return self.con.sql(
            "SELECT invoice_id, metric_id, unit_price, quantity, amount, event_count FROM invoice_lines "
            "ORDER BY invoice_id, metric_id, unit_price").fetchall()


_instance: dg.DagsterInstance | None = None


def dagster_instance() -> dg.DagsterInstance:
    """One ephemeral Dagster instance for the test session (each run is recorded in it, as in the UI's)."""
    global _instance
    if _instance is None:
        _instance = dg.DagsterInstance.ephemeral()
    return _instance


def run(tmp_path: Path, raw_dir: Path | None = None, reference_dir: Path | None = None,
        close: tuple[date, date] | None = None) -> Result:
    """`tally run` on `raw_dir` (default tmp_path/raw) with the default reference set, into
    tmp_path/warehouse.duckdb, with the close files of tmp_path/control: the Dagster jobs with their
    contracts and checks, then publishing; with ``close`` (month, issue date), `tally close`.
    Raises ``RunFailed`` when the run cannot be trusted, as `tally run` exits 1."""
    raw_dir = raw_dir or tmp_path / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    reference_dir = reference_dir or write_reference(tmp_path / "reference")
    db = tmp_path / "warehouse.duckdb"
    summary = run_pipeline(raw_dir, reference_dir, db, instance=dagster_instance(),
                           control_dir=tmp_path / "control", close=close)
    return Result(connect_state(db), summary)


@contextmanager
def persistent_instance(tmp_path: Path):
    """A Dagster instance on disk, as with DAGSTER_HOME (a schedule's context needs one that is not
    ephemeral)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def force_contract_failure(monkeypatch, schema) -> None:
    """Make the Pandera contract ``schema`` fail on every batch it validates, whatever the data."""
    from transforms import contracts

    real = contracts.failures

    def failing(checked, frame):
        if checked is schema:
            return pl.DataFrame({"failure_case": ["forced by the test"], "check": ["test"]})
        return real(checked, frame)

    monkeypatch.setattr(contracts, "failures", failing)
