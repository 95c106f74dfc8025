"""`tally run`: load new dumps, invoice the months they change, publish the warehouse."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path
from typing import Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from dagster_project.cli import guards
from dagster_project.cli.common import EXIT_REFUSED, EXIT_USAGE, CommandError, add_db_option, console
from dagster_project.defaults import (
    DEFAULT_CONTROL_DIR,
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_RAW_DIR,
    DEFAULT_REFERENCE_DIR,
)
from transforms.raw.dump_files import SOURCES, RawDirError, check_raw_dir

HELP = "load new dumps, invoice the months they change, publish the warehouse"
DESCRIPTION = """\
Materialize the whole asset graph through Dagster, in process: load the dump files not loaded before,
recompute the records they affect, re-invoice the billing months those records fall in, run the Pandera
contracts and invariant checks, and publish the warehouse. A run with nothing new does next to nothing.
It ends with a summary (records by outcome, invoices written). When the run cannot be trusted (invalid
reference data, a failed step, a failed blocking check) it exits with status 1 and the reason, and the
published warehouse is left exactly as it was. A dump file that was loaded and now holds other bytes
(rewritten, or appended to), or that cannot be read whole (a truncated gzip stream, an unreadable file
or folder), is refused: nothing of it is loaded, everything else is billed and published, the summary
names each refused file with its reason, and the exit status is 3. A raw folder that holds none of the
source folders is refused before anything runs (status 2). On a terminal it shows progress bars;
otherwise one line per step."""


def memory_limit(value: str) -> str:
    """argparse type: a size DuckDB accepts (it is the judge), so a typo fails before anything runs."""
    import duckdb

    try:
        duckdb.connect(":memory:", config={"memory_limit": value}).close()
    except duckdb.Error as error:
        detail = str(error).removeprefix("Parser Error: ")
        raise argparse.ArgumentTypeError(
            f"invalid memory limit {value!r} ({detail}); use a size such as 512MB, 4GB or 2GiB, or a share of "
            "the machine's memory such as 50%") from None
    return value


def add_parser(commands) -> None:
    parser = commands.add_parser("run", help=HELP, description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(parser)
    parser.set_defaults(handler=command)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of `tally run`, which `tally close` takes too."""
    parser.add_argument("--raw-dir", type=Path, default=Path(os.environ.get("TALLY_RAW_DIR", DEFAULT_RAW_DIR)),
                        metavar="DIR",
                        help="dump folder with one subfolder per source: "
                             f"{', '.join(SOURCES)} (env TALLY_RAW_DIR, default %(default)s)")
    parser.add_argument("--reference-dir", type=Path,
                        default=Path(os.environ.get("TALLY_REFERENCE_DIR", DEFAULT_REFERENCE_DIR)), metavar="DIR",
                        help="folder of the five reference CSVs (env TALLY_REFERENCE_DIR, default %(default)s)")
    add_db_option(parser, "warehouse file to publish; the working database <stem>.state.duckdb sits beside it")
    parser.add_argument("--memory-limit", type=memory_limit,
                        default=os.environ.get("TALLY_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT), metavar="SIZE",
                        help="memory DuckDB may use before it spills to disk, e.g. 512MB, 4GB, 50%% "
                             "(env TALLY_MEMORY_LIMIT, default %(default)s)")
    parser.add_argument("--documents-dir", type=Path, default=_env_path("TALLY_DOCUMENTS_DIR"), metavar="DIR",
                        help="folder of the invoice documents, one subfolder per month (env TALLY_DOCUMENTS_DIR, "
                             "default invoices/ beside the warehouse)")
    parser.add_argument("--control-dir", type=Path,
                        default=Path(os.environ.get("TALLY_CONTROL_DIR", DEFAULT_CONTROL_DIR)), metavar="DIR",
                        help="folder of the close files: every run issues those not issued yet "
                             "(env TALLY_CONTROL_DIR, default %(default)s)")


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def command(args: argparse.Namespace) -> int:
    return execute(args)


def execute(args: argparse.Namespace, close: tuple[date, date] | None = None) -> int:
    """Run the pipeline for `tally run`, or for `tally close` with ``close`` (month, issue date)."""
    name = "close" if close else "run"
    _check_folders(args.raw_dir, args.reference_dir)
    guards.check_dagster_home()
    guards.claim_db(args.db)
    from dagster_project import progress
    from dagster_project.runner import RunFailed, run_pipeline

    out = console()
    options = dict(documents_dir=args.documents_dir, control_dir=args.control_dir, close=close)
    try:
        if out.is_terminal and not out.is_dumb_terminal:
            with RunDisplay(out) as display, progress.showing(display):
                summary = run_pipeline(args.raw_dir, args.reference_dir, args.db, args.memory_limit, **options)
        else:
            summary = run_pipeline(args.raw_dir, args.reference_dir, args.db, args.memory_limit, **options)
    except RunFailed as failure:
        print(f"\ntally {name} failed: {failure.problem}", file=sys.stderr)
        if failure.next_step:
            print(failure.next_step, file=sys.stderr)
        return EXIT_USAGE if failure.refused else 1
    print(summary)
    if summary.not_closed:
        print(f"tally close: {summary.not_closed}", file=sys.stderr)
    if summary.refused:
        names = ", ".join(refused.source_file for refused in summary.refused)
        print(f"tally {name}: published, but refused {len(summary.refused)} input "
              f"file{'' if len(summary.refused) == 1 else 's'} (see the summary): {names}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


def _check_folders(raw_dir: Path, reference_dir: Path) -> None:
    try:
        check_raw_dir(raw_dir)
    except RawDirError as error:
        hint = error.hint[0].upper() + error.hint[1:]
        raise CommandError(error.problem, f"{hint}; nothing was run.", EXIT_USAGE) from None
    if not reference_dir.is_dir():
        raise CommandError(
            f"reference directory {reference_dir} does not exist" if not reference_dir.exists()
            else f"{reference_dir} is not a directory",
            "Pass --reference-dir DIR or set TALLY_REFERENCE_DIR to the folder with customers.csv, "
            "customer_keys.csv, meters.csv, prices.csv and statuses.csv; nothing was run.", EXIT_USAGE)


class RunDisplay:
    """Progress bars for a terminal: the steps done of the run's steps and the current step, and while
    the raw load runs, the files loaded of the new files. The plain lines are printed above the bars."""

    def __init__(self, out: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=out, transient=True,
        )
        self.steps = self.progress.add_task("starting", total=None)
        self.files = None
        self.total = 0

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def job_started(self, name: str, steps: int) -> None:
        self.total += steps
        self.progress.update(self.steps, total=self.total, description=f"{name} job")

    def show(self, event) -> None:
        if event.line and event.kind != "step_start":
            style = "red" if event.kind == "step_failure" or event.line.endswith("FAILED") else None
            self.progress.console.print(event.line, style=style)
        if event.kind == "step_start":
            self.progress.update(self.steps, description=f"step {event.step}")
        elif event.kind in ("step_success", "step_failure"):
            self.progress.advance(self.steps)
            self._end_files()
        elif event.kind == "file":
            if self.files is None:
                self.files = self.progress.add_task("", total=event.total)
            self.progress.update(self.files, completed=event.done, total=event.total,
                                 description=f"  loading {event.name}")
            if event.done == event.total:  # drawn now: the bar goes when the step ends, maybe before a refresh
                self.progress.refresh()

    def _end_files(self) -> None:
        if self.files is not None:
            self.progress.remove_task(self.files)
            self.files = None
