"""`tally status`: what is loaded, the last run, outcomes by source, invoices by month."""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path

import duckdb
from rich import box
from rich.console import Console
from rich.table import Table

from dagster_project import run_lock
from dagster_project.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    CommandError,
    add_db_option,
    console,
    count,
    print_json,
)
from dagster_project.cli.guards import check_dagster_home
from transforms.marts.formatting import format_amount, format_money
from transforms.ownership import error_text
from transforms.status import (
    PublishedStatus,
    StateLocked,
    StateStatus,
    StateUnreadable,
    read_published,
    read_state,
)
from transforms.warehouse import state_path

HELP = "show what is loaded, the last run, outcomes by source and invoices by month"
DESCRIPTION = """\
Show what the working database has loaded (per source: files, lines, last loaded), the input files the
last load refused (each with its reason), the last runs of `tally run` and what they did, what waits for
the next run, and what the published warehouse holds:
records by outcome per source and invoices per month and currency. With DAGSTER_HOME set, also the
newest run recorded in that Dagster instance. Opens every file read-only and never waits for, nor
blocks, a run: while a run is writing, it says so and shows the published warehouse. Exit status 2 when
--db is not a tally warehouse, 1 when the working database or the published warehouse is damaged (the
next `tally run` rebuilds it)."""


def add_parser(commands) -> None:
    parser = commands.add_parser("status", help=HELP, description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_db_option(parser, "warehouse file; the working database <stem>.state.duckdb sits beside it")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables, for scripts")
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    db: Path = args.db
    check_dagster_home()
    busy = note = None
    state = None
    problems = _unreadable(db)
    damaged_published = bool(problems)
    with run_lock.shared(db) as holder:
        if holder is not None:
            busy = f"A tally run is in progress ({holder}): what it has loaded so far is not shown until it ends."
        else:
            try:
                state = read_state(db)
            except StateLocked as locked:
                busy = (f"The working database {state_path(db)} is locked by another process"
                        + (f" (PID {locked.pid})" if locked.pid else "")
                        + ", a Dagster run or a DuckDB session writing it: what is loaded is not shown.")
            except StateUnreadable as damaged:
                problems.append(f"The working database {damaged.path} cannot be read ({damaged.detail}). It holds "
                                "only what tally derives from the dumps and reference data: the next `tally run` "
                                "moves it aside and rebuilds it.")
    published = None
    if not damaged_published:
        try:
            published = read_published(db)
        except duckdb.Error as error:
            problems.append(f"The published warehouse {db} cannot be read ({error_text(error)}).")
    dagster_run = _dagster_last_run()
    if state is None and published is None and busy is None and not problems:
        note = (f"Nothing has been run yet: there is no warehouse at {db}. Run `tally run` to load the dumps "
                "(default data/raw, data/reference) and publish it, or point --db (or TALLY_DB) at an existing "
                "warehouse.")
    if args.json:
        print_json({"db": db, "note": note, "busy": busy, "state": state, "published": published,
                    "dagster_last_run": dagster_run, "problems": problems})
        return EXIT_FAILED if problems else 0
    out = console()
    if note:
        out.print(note)
        return 0
    out.print(f"tally status of {db}", style="bold")
    out.print()
    for problem in problems:
        out.print(problem, style="red")
    if busy:
        out.print(busy, style="yellow")
    if state is not None:
        _print_state(out, state, published)
    if dagster_run and "error" in dagster_run:
        out.print(f"Dagster instance ({os.environ.get('DAGSTER_HOME')}): cannot be read: {dagster_run['error']}")
    elif dagster_run:
        out.print(f"Dagster instance ({os.environ.get('DAGSTER_HOME')}): newest run {dagster_run['run_id']} "
                  f"of job {dagster_run['job']}, {dagster_run['status']}"
                  + (f", started {dagster_run['started_at']}" if dagster_run["started_at"] else ""))
    if not damaged_published:
        _print_published(out, db, published)
    return EXIT_FAILED if problems else 0


def _unreadable(db: Path) -> list[str]:
    """Refuse (exit 2) a ``--db`` that is not a tally warehouse; tally's own published file, damaged,
    is a problem to report (exit 1): the next run republishes it (``transforms.ownership``)."""
    from transforms.ownership import inspect_published, remembered_published

    found = inspect_published(db, remembered_published(db))
    if found.kind == "foreign":
        raise CommandError(found.problem, "Point --db (or TALLY_DB) at the warehouse `tally run` publishes.",
                           EXIT_USAGE)
    if found.kind == "damaged":
        return [f"The published warehouse {db}, which tally published last, cannot be read ({found.detail}). "
                "The next `tally run` moves it aside and publishes every table again."]
    return []


def _print_state(out: Console, state: StateStatus, published: PublishedStatus | None) -> None:
    table = Table(title=f"Loaded dump files ({state.path})", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name, justify in (("source", "left"), ("files", "right"), ("lines", "right"), ("size", "right"),
                          ("last loaded", "left")):
        table.add_column(name, justify=justify)
    for row in state.loaded.iter_rows(named=True):
        table.add_row(row["source"], str(row["files"]), str(row["lines"]), _size(row["bytes"]),
                      _when(row["last_loaded_at"]) or "never")
    table.add_row("all", str(state.loaded["files"].sum()), str(state.loaded["lines"].sum()),
                  _size(int(state.loaded["bytes"].sum())), "", style="bold")
    out.print(table)
    out.print()
    if state.refused:
        out.print(f"Refused by the last load: {count(len(state.refused), 'file')} (nothing of a refused file is "
                  "loaded). Restore or fix each and run `tally run` again:", style="yellow")
        for refused in state.refused:
            out.print(f"  {refused.describe()}", style="yellow")
        out.print()
    if state.runs.is_empty():
        out.print("Last run: none recorded by `tally run`"
                  + (f" (outcomes last recomputed {_when(state.last_change_at)})" if state.last_change_at else ""))
    else:
        runs = list(state.runs.iter_rows(named=True))
        out.print(f"Last run: {_run_sentence(runs[0])}")
        for run in runs[1:]:
            out.print(f"  before: {_run_sentence(run)}", style="dim")
    if state.stale_months or state.unpublished:
        waiting = []
        if state.stale_months:
            waiting.append("the invoices of " + ", ".join(m.strftime("%Y-%m") for m in state.stale_months)
                           + " are to be rebuilt")
        if state.unpublished:
            waiting.append("results are not yet published")
        out.print(f"Waiting: {'; '.join(waiting)}. Run `tally run` to finish.", style="yellow")
    elif published is not None:
        out.print("Waiting: nothing; the published warehouse is up to date with what is loaded.")


def _run_sentence(run: dict) -> str:
    seconds = (run["finished_at"] - run["started_at"]).total_seconds()
    did = [f"loaded {count(run['files_loaded'], 'file')} ({count(run['lines_loaded'], 'line')})"
           if run["files_loaded"] else "loaded no new files",
           {"full rebuild": "recomputed every record", "changed lines": "recomputed the records they affect",
            "nothing new": "recomputed nothing"}.get(run["resolution"], run["resolution"])]
    if run["months"]:
        did.append(f"invoiced {', '.join(m.strftime('%Y-%m') for m in run['months'])} "
                   f"({count(run['invoices_written'], 'invoice')})")
    did.append("published the warehouse" if run["published"] else "published nothing")
    outcome = "succeeded" if run["succeeded"] else "FAILED"
    text = f"#{run['run_number']} {_when(run['started_at'])}, {outcome} after {seconds:.1f} s: {', '.join(did)}"
    return text + (f". Failure: {run['message']}" if run["message"] else "")


def _print_published(out: Console, db: Path, published: PublishedStatus | None) -> None:
    if published is None:
        out.print(f"Published warehouse: none yet at {db}; the first successful `tally run` publishes it.")
        return
    out.print()
    out.print(f"Published warehouse: {published.path}, published {_when(published.published_at)} "
              f"({_size(published.size)}), {published.invoices} invoices over {published.records} records")
    outcomes = Table(title="Records by outcome (reconciliation)", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    columns = published.reconciliation.columns
    for name in columns:
        outcomes.add_column(name, justify="left" if name == "source" else "right")
    for row in published.reconciliation.iter_rows():
        outcomes.add_row(*(str(v) for v in row))
    outcomes.add_row("all", *(str(published.reconciliation[c].sum()) for c in columns[1:]), style="bold")
    out.print(outcomes)
    out.print()
    invoices = Table(title="Invoices by month", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name, justify in (("month", "left"), ("currency", "left"), ("invoices", "right"), ("total", "right"),
                          ("lines", "right"), ("events", "right")):
        invoices.add_column(name, justify=justify)
    for row in published.invoices_by_month.iter_rows(named=True):
        invoices.add_row(row["period_start"].strftime("%Y-%m"), row["currency"], str(row["invoices"]),
                         format_amount(row["total"], row["currency"]), str(row["lines"]), str(row["events"]))
    if published.invoices_by_month.is_empty():
        invoices.add_row("none", "", "0", "", "", "")
    out.print(invoices)
    if not published.documents_by_month.is_empty():
        out.print()
        documents = Table(title="Documents by month (SPEC §7)", title_justify="left", box=box.SIMPLE_HEAD,
                          show_edge=False, pad_edge=False)
        for name in ("month", "state", "issued", "drafts", "pending adjustments", "pending totals"):
            documents.add_column(name, justify="right" if name in ("drafts", "pending adjustments") else "left")
        for row in published.documents_by_month.iter_rows(named=True):
            documents.add_row(row["period_start"].strftime("%Y-%m"), row["state"], row["issued"], str(row["drafts"]),
                              str(row["pending_adjustments"]),
                              ", ".join(format_money(t["total"], t["currency"]) for t in row["pending_totals"]))
        out.print(documents)
    for row in published.last_numbers.iter_rows(named=True):
        out.print(f"last issued number of {row['prefix']} in {row['issue_year']}: {row['last_number']} "
                  f"({row['issued']} issued)")


def _dagster_last_run() -> dict | None:
    """The newest run of the Dagster instance in DAGSTER_HOME, if it is set (a `tally run` records its
    two jobs there too); None otherwise or if it cannot be read."""
    if not os.environ.get("DAGSTER_HOME"):
        return None
    try:
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            records = instance.get_run_records(limit=1)
    except Exception as error:  # noqa: BLE001 (an unreadable instance must not hide the rest of the status)
        return {"error": str(error).splitlines()[0] if str(error) else type(error).__name__}
    if not records:
        return None
    record = records[0]
    started = datetime.fromtimestamp(record.start_time).astimezone() if record.start_time else None
    return {"run_id": record.dagster_run.run_id, "job": record.dagster_run.job_name,
            "status": record.dagster_run.status.value, "started_at": _when(started) if started else None}


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _size(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return str(size)
