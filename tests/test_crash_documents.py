"""Crash safety of everything `tally run` writes (SPEC §6): the invoice documents always come to match
the published warehouse, a run that fails before or at publishing leaves them as they were, and what a
killed run left beside the warehouse or among the documents is removed by the next run.

A crash is a real `tally run` in a subprocess that dies with `os._exit` (no clean-up, as with kill -9) on
entering or leaving one function of the pipeline: every reference to that function, wherever it was
imported, is replaced before the run starts. The next run is `run_pipeline`, as `tally run` calls it.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from harness import envelope, write_dump, write_reference

from dagster_project.runner import RunFailed, run_pipeline
from transforms import contracts
from transforms.marts.formatting import format_money

KILLED = 137
TOTAL = re.compile(r'<td class="num" id="total">([^<]*)</td>')
KILLED_RUN = """
import importlib, os, sys
target, when, call, argv = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
import dagster_project.cli, dagster_project.definitions, dagster_project.runner
def replace(module_name, name):
    original = getattr(importlib.import_module(module_name), name)
    calls = 0
    def dying(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == call and when == "before":
            os._exit(%d)
        result = original(*args, **kwargs)
        if calls == call and when == "after":
            os._exit(%d)
        return result
    for module in list(sys.modules.values()):
        for attr, value in list(getattr(module, "__dict__", {}).items()):
            if value is original:
                setattr(module, attr, dying)
replace(*target.rsplit(".", 1))
sys.exit(dagster_project.cli.main(["run", *argv]))
""" % (KILLED, KILLED)


class Setup:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.raw, self.db, self.docs = folder / "raw", folder / "out" / "warehouse.duckdb", folder / "docs"
        self.reference = write_reference(folder / "reference")

    def run(self):
        return run_pipeline(self.raw, self.reference, self.db, documents_dir=self.docs)

    def killed_run(self, target: str, when: str = "before", call: int = 1) -> None:
        """`tally run` in a subprocess, killed on entering (``before``) or leaving (``after``) the
        ``call``-th call of ``target`` (``module.function``)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "DAGSTER_HOME"))}
        done = subprocess.run(
            [sys.executable, "-c", KILLED_RUN, target, when, str(call), "--raw-dir", str(self.raw),
             "--reference-dir", str(self.reference), "--db", str(self.db), "--documents-dir", str(self.docs)],
            cwd=self.folder, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == KILLED, f"the run was not killed at {target} ({when}):\n{done.stdout}{done.stderr}"


def first_dumps(raw: Path) -> None:
    """Two months: c_usd in October (2 claims at 0.50: 1.00 USD), c_bhd in September (3 at 0.125 BHD)."""
    write_dump(raw, "samplehc/first.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 2, "occurredAt": "2026-10-05T12:00:00Z"}, account="org_usd"),
        envelope({"eventSlug": "claim-check", "quantity": 3, "occurredAt": "2026-09-10T12:00:00Z"},
                 received_at="2026-09-10T12:00:01Z", account="org_bhd"),
    ])


def late_dumps(raw: Path) -> None:
    """More October usage: c_usd's total becomes 1.00 + 10 × 0.55 = 6.50 USD, and c_ny gets an invoice."""
    write_dump(raw, "samplehc/late.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 10, "occurredAt": "2026-10-20T12:00:00Z"},
                 received_at="2026-10-20T12:00:01Z", account="org_usd"),
        envelope({"eventSlug": "claim-check", "quantity": 4, "occurredAt": "2026-10-21T12:00:00Z"},
                 received_at="2026-10-21T12:00:01Z", account="org_ny"),
    ])


def published(db: Path) -> dict[str, tuple[date, str, Decimal]]:
    """invoice_id -> (period_start, currency, total) of the published warehouse."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {invoice_id: rest for invoice_id, *rest in con.sql(
            "SELECT invoice_id, period_start, currency, total FROM invoices ORDER BY invoice_id").fetchall()}


def page_totals(docs: Path) -> dict[tuple[str, str], str]:
    """(month folder, invoice id) -> the total its document shows, for every invoice document."""
    totals = {}
    for page in sorted(docs.glob("*/INV-*.html")):
        [total] = TOTAL.findall(page.read_text(encoding="utf-8"))
        totals[(page.parent.name, page.stem)] = total
    return totals


def assert_documents_match_the_warehouse(db: Path, docs: Path) -> None:
    """One document per published invoice, in its month's folder, showing the warehouse's total; an index
    per month; no other month's folder, and no hidden leftover."""
    invoices = published(db)
    assert page_totals(docs) == {(period.strftime("%Y-%m"), invoice_id): format_money(total, currency)
                                 for invoice_id, (period, currency, total) in invoices.items()}
    months = {period.strftime("%Y-%m") for period, _, _ in invoices.values()}
    assert {p.name for p in docs.iterdir() if p.is_dir()} == months
    assert [p.name for p in docs.iterdir() if p.name.startswith(".")] == []
    assert all((docs / month / "index.html").is_file() for month in months)


def files(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True)
def _no_dagster_home(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Setup:
    """The two loads, each by a run that finished: what every crashed sequence must end with."""
    setup = Setup(tmp_path_factory.mktemp("uninterrupted"))
    first_dumps(setup.raw)
    setup.run()
    late_dumps(setup.raw)
    setup.run()
    assert published(setup.db)["INV-202610-c_usd"][2] == Decimal("6.50")
    assert_documents_match_the_warehouse(setup.db, setup.docs)
    return setup


@pytest.fixture
def first_run(tmp_path) -> Setup:
    """The first load published with its documents, and the late dumps waiting for the next run."""
    setup = Setup(tmp_path)
    first_dumps(setup.raw)
    setup.run()
    assert_documents_match_the_warehouse(setup.db, setup.docs)
    assert page_totals(setup.docs)[("2026-10", "INV-202610-c_usd")] == "1.00 USD"
    late_dumps(setup.raw)
    return setup


# ---------------------------------------------------------------------------------------------------
# (1) A run killed between the invoice step and the documents, or among the documents


@pytest.mark.parametrize("target, when, call", [
    ("transforms.warehouse.publish", "before", 1),  # after the invoice step, before publishing
    ("transforms.warehouse.publish", "after", 1),  # published, no document written yet
    ("transforms.marts.document_files.replace_month", "before", 1),  # the first month's documents
    ("transforms.marts.document_files.replace_month", "after", 1),  # one month's documents written
])
def test_documents_match_the_warehouse_after_a_killed_run(first_run, uninterrupted, target, when, call):
    first_run.killed_run(target, when, call)
    assert set(published(first_run.db)) <= set(published(uninterrupted.db)), "the warehouse is readable"

    first_run.run()
    assert_documents_match_the_warehouse(first_run.db, first_run.docs)
    assert published(first_run.db) == published(uninterrupted.db)
    assert page_totals(first_run.docs)[("2026-10", "INV-202610-c_usd")] == "6.50 USD"
    assert files(first_run.docs) == files(uninterrupted.docs), "the documents of an uninterrupted run, byte for byte"


def test_a_run_with_nothing_new_brings_the_documents_up_to_date(first_run, uninterrupted):
    """Killed after publishing: the next run has nothing to load or publish, and still renders the
    documents of the publication; so does a run after a month's folder was deleted by hand."""
    first_run.killed_run("transforms.warehouse.publish", "after")
    assert published(first_run.db) == published(uninterrupted.db)
    assert page_totals(first_run.docs)[("2026-10", "INV-202610-c_usd")] == "1.00 USD"  # stale until the next run

    summary = first_run.run()
    assert summary.invoices == 0, "nothing new to invoice"
    assert files(first_run.docs) == files(uninterrupted.docs)

    for page in (first_run.docs / "2026-10").iterdir():
        page.unlink()
    (first_run.docs / "2026-10").rmdir()
    first_run.run()
    assert files(first_run.docs) == files(uninterrupted.docs)


# ---------------------------------------------------------------------------------------------------
# (2) A run that fails before or at publishing leaves the documents as they were


def _fail_publishing(monkeypatch) -> None:
    import transforms.warehouse

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transforms.warehouse, "_write_tables", full_disk)


def _fail_invoice_contract(monkeypatch) -> None:
    real = contracts.failures

    def failing(checked, frame):
        if checked is contracts.INVOICES:
            import polars as pl
            return pl.DataFrame({"failure_case": ["forced by the test"], "check": ["test"]})
        return real(checked, frame)

    monkeypatch.setattr(contracts, "failures", failing)


@pytest.mark.parametrize("fault, message", [
    (_fail_publishing, "No space left on device"),
    (_fail_invoice_contract, "pandera_contract"),
])
def test_a_failed_run_leaves_the_documents_of_the_previous_publication(first_run, uninterrupted, monkeypatch,
                                                                        fault, message):
    documents, warehouse = files(first_run.docs), first_run.db.read_bytes()
    with monkeypatch.context() as patch:
        fault(patch)
        with pytest.raises(RunFailed, match=message):
            first_run.run()
    assert files(first_run.docs) == documents, "the documents changed although nothing was published"
    assert first_run.db.read_bytes() == warehouse
    assert_documents_match_the_warehouse(first_run.db, first_run.docs)

    first_run.run()
    assert files(first_run.docs) == files(uninterrupted.docs)


# ---------------------------------------------------------------------------------------------------
# (3) What a killed run leaves behind is removed by the next run


@pytest.mark.parametrize("target, when, leftover", [
    # the new warehouse file fully written, never renamed over the published one
    ("transforms.warehouse._write_tables", "after", "out/warehouse.duckdb.tmp-*"),
    # a month's new documents written into their hidden folder, never renamed into place
    ("transforms.marts.document_files.sync_folder", "before", "docs/.2026-10.new-*"),
])
def test_leftovers_of_a_killed_run_are_removed(first_run, uninterrupted, target, when, leftover):
    before = first_run.db.read_bytes()
    first_run.killed_run(target, when)
    assert list(first_run.folder.glob(leftover)), f"the killed run left no {leftover}"
    if target.startswith("transforms.warehouse"):
        assert first_run.db.read_bytes() == before, "the published warehouse is as it was"

    first_run.run()
    assert list(first_run.folder.glob(leftover)) == []
    assert sorted(p.name for p in first_run.db.parent.iterdir()) == [
        "warehouse.duckdb", "warehouse.run.lock", "warehouse.state.duckdb"]
    assert [p.name for p in first_run.docs.iterdir() if p.name.startswith(".")] == []
    assert published(first_run.db) == published(uninterrupted.db)
    assert files(first_run.docs) == files(uninterrupted.docs)


def test_only_leftovers_of_other_processes_are_removed(tmp_path):
    """This process's own temporary file may be its copy of the published file, in use: it stays. So do
    files that are not tally's."""
    from transforms.warehouse import remove_leftovers

    db = tmp_path / "warehouse.duckdb"
    db.write_bytes(b"published")
    own, other, other_wal = (tmp_path / f"warehouse.duckdb.tmp-{n}" for n in (os.getpid(), 999999, "999999.wal"))
    foreign = [tmp_path / "warehouse.duckdb.tmp-notes", tmp_path / "other.duckdb.tmp-999999"]
    for path in (own, other, other_wal, *foreign):
        path.write_bytes(b"x")
    assert remove_leftovers(db) == sorted([other, other_wal])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["warehouse.duckdb", own.name, *(p.name for p in foreign)])
