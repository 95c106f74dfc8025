"""Runs the asset graph in process, the way `tally run` does: load, invoice the months it changed, publish, documents."""

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from dagster_project import progress, run_lock
from dagster_project.definitions import build_definitions
from dagster_project import replay
from dagster_project.assets.lifecycle import REFUSED_TAG
from dagster_project.jobs import PUBLISHED_ASSETS, TRIGGER_TAG
from dagster_project.partitions import BILLING_MONTHS, add_billing_months, covering_range
from dagster_project.progress import progress_logger
from dagster_project.defaults import DEFAULT_CONTROL_DIR, DEFAULT_MEMORY_LIMIT
from dagster_project.resources import TallyWarehouse
from transforms.marts import stale_periods
from transforms.raw.refused import Refused, read_refused
from transforms.runs import record_run
from transforms.warehouse import file_identity

PROGRESS = {"loggers": {"progress": {}}}
PUBLISH = dg.AssetKey(["publish", "warehouse"])
DOCUMENTS = dg.AssetKey(["publish", "invoice_documents"])
PUBLISHED = tuple(dg.AssetKey(key) for key in PUBLISHED_ASSETS)
DOCUMENT_STEPS = ("publish__invoice_documents", "publish__issued_documents")
UNCHANGED = "Nothing was published: the warehouse file is left as it was."
_LOCKED = re.compile(r'Could not set lock on file "(?P<file>[^"]+)".*?PID (?P<pid>[0-9]+)', re.DOTALL)


class RunFailed(Exception):
    """The run cannot be trusted; the published warehouse was left as it was. ``next_step`` says what to do."""

    def __init__(self, problem: str, next_step: str = "", locked: bool = False, published: bool = False,
                 refused: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.next_step = next_step
        self.locked = locked  # the working database was locked by another process: the run could not log
        self.published = published  # the warehouse was published; a later step (the documents) failed
        self.refused = refused  # a close the lifecycle does not allow (a mistake in the command: exit 2)


@dataclass
class Summary:
    reconciliation: pl.DataFrame
    invoices: int  # written by this run: the invoices of the months it rebuilt
    invoices_total: int
    periods: list[date]
    db: Path
    refused: list[Refused] = field(default_factory=list)  # input files this run's load refused (SPEC §1)
    issued: list[str] = field(default_factory=list)  # numbers of the documents this run issued (SPEC §7)
    pending_adjustments: int = 0  # drafts of closed months: issued by the next close
    not_closed: str | None = None  # why `tally close` did not close its month

    def __str__(self) -> str:
        totals = self.reconciliation.drop("source").sum()
        lines = ["", "records by outcome:"]
        lines += [f"  {name:<20}{value:>10}" for name, value in zip(totals.columns, totals.row(0))]
        months = ", ".join(p.isoformat()[:7] for p in self.periods) or "none"
        lines += [f"invoices written: {self.invoices} (months: {months}); in the warehouse: {self.invoices_total}",
                  f"warehouse: {self.db}"]
        if self.issued:
            shown = ", ".join(self.issued[:5]) + (f" … {self.issued[-1]}" if len(self.issued) > 5 else "")
            lines.append(f"documents issued: {len(self.issued)} ({shown})")
        if self.pending_adjustments:
            lines.append(f"pending adjustments of closed months: {self.pending_adjustments} (the next close "
                         "issues them)")
        if self.refused:
            lines += ["refused input files: nothing of them was loaded (what was loaded from them before keeps its "
                      "outcomes), everything else was billed; fix or restore each and run tally again:"]
            lines += [f"  {refused.describe()}" for refused in self.refused]
        return "\n".join(lines)


def run_pipeline(raw_dir: Path, reference_dir: Path, db: Path, memory_limit: str = DEFAULT_MEMORY_LIMIT,
                 instance: dg.DagsterInstance | None = None, documents_dir: Path | None = None,
                 control_dir: Path | None = None, close: tuple[date, date] | None = None) -> Summary:
    """Issue the close files not issued yet, load, invoice the stale months, publish, and bring the
    documents up to date with the published warehouse, holding the run lock of ``db`` throughout; with
    ``close`` (month, issue date), then close that month (``tally close``). Every run is written to the run
    log of the working database, a failed one with its reason."""
    warehouse = TallyWarehouse(raw_dir=str(raw_dir), reference_dir=str(reference_dir), db=str(db),
                               memory_limit=memory_limit, documents_dir=str(documents_dir or ""),
                               control_dir=str(control_dir or DEFAULT_CONTROL_DIR))
    try:
        with run_lock.exclusive(db):
            started = datetime.now(UTC)
            before = file_identity(db)
            periods: list[date] = []
            try:
                try:
                    periods, summary = _run(warehouse, db, instance, close)
                except duckdb.Error as error:  # the runner's own reads between the jobs
                    raise _explain_step_problem(None, _without_class(str(error))) from None
            except RunFailed as failure:
                if not failure.locked:
                    _log_run(warehouse, started, False, periods, 0, before != file_identity(db), failure.problem)
                raise
            _log_run(warehouse, started, True, periods, summary.invoices, before != file_identity(db))
            return summary
    except run_lock.RunInProgress as busy:
        raise RunFailed(str(busy)) from None


def _run(warehouse: TallyWarehouse, db: Path, instance: dg.DagsterInstance | None,
         close: tuple[date, date] | None = None) -> tuple[list[date], Summary]:
    instance = instance or (dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral())
    with warehouse.connect() as con:
        issued_before = _issued_numbers(con)
    replay.issue_pending_closes(warehouse, instance, _bring_up_to_date, _execute, RunFailed)
    with warehouse.holding():
        periods = _bring_up_to_date(warehouse, instance, publish=True)
        with warehouse.connect() as con:
            refused = read_refused(con)
        not_closed = None
        if close is not None and refused:
            # Issued documents never change: a month is not issued while some of its input may be missing.
            not_closed = (f"{close[0].isoformat()[:7]} was not closed: input files were refused; fix or restore "
                          "them and close again")
        elif close is not None:
            _close(warehouse, instance, *close)
        with warehouse.connect() as con:
            reconciliation = con.sql("SELECT * FROM reconciliation ORDER BY source").pl()
            written, total = con.sql(
                "SELECT count(*) FILTER (WHERE list_contains(?, period_start)), count(*) FROM invoices",
                params=[periods]).fetchall()[0]
            issued = [n for n in _issued_numbers(con) if n not in set(issued_before)]
            pending = con.sql("SELECT count(*) FROM documents d JOIN lc_closes c ON c.month = d.period_start "
                              "WHERE d.status = 'draft'").fetchall()[0][0]
    return periods, Summary(reconciliation, written, total, periods, db, refused, issued, pending, not_closed)


def _issued_numbers(con) -> list[str]:
    return [n for (n,) in con.sql("SELECT document_number FROM lc_issued ORDER BY issue_date, document_number")
            .fetchall()]


def _bring_up_to_date(warehouse: TallyWarehouse, instance: dg.DagsterInstance, publish: bool) -> list[date]:
    """Load what is new, invoice the months it made stale, and (``publish``) publish and write the
    documents; returns the months invoiced."""
    defs = build_definitions(warehouse, loggers={"progress": progress_logger})
    load = defs.resolve_job_def("load")
    unpublished = [key for key in load.asset_layer.executable_asset_keys if key not in PUBLISHED]
    _execute(load, instance, asset_selection=unpublished)
    periods, months = _billing_periods(warehouse, instance)
    if periods:
        invoice = defs.resolve_job_def("invoice")
        selection = None if publish else [k for k in invoice.asset_layer.executable_asset_keys if k not in PUBLISHED]
        try:
            _execute(invoice, instance, tags={
                "dagster/asset_partition_range_start": months[0],
                "dagster/asset_partition_range_end": months[-1],
            }, asset_selection=selection)
        except RunFailed as failure:
            warehouse.release()
            if not (failure.locked or failure.published):
                _mark_stale(warehouse, periods)
            raise
    elif publish:
        _execute(load, instance, asset_selection=list(PUBLISHED))
    return periods


def _close(warehouse: TallyWarehouse, instance: dg.DagsterInstance, month: date, issue_date: date) -> None:
    """Close ``month`` through the Dagster close job: its close file, its documents, publishing."""
    key = month.isoformat()
    add_billing_months(instance, [key])
    defs = build_definitions(warehouse, loggers={"progress": progress_logger})
    _execute(defs.resolve_job_def("close"), instance, partition_key=key,
             run_config={"ops": {"lifecycle__close_file": {"config": {"issue_date": issue_date.isoformat()}}}})


def _mark_stale(warehouse: TallyWarehouse, periods: list[date]) -> None:
    """After a failed invoice job, its months wait for a rebuild again: the next run rebuilds and checks
    them before it publishes, rather than publishing invoices whose checks failed."""
    try:
        with warehouse.connect() as con:
            con.execute("INSERT OR IGNORE INTO int_stale_periods SELECT unnest(?::DATE[])", [periods])
    except duckdb.Error:
        pass


def _log_run(warehouse: TallyWarehouse, started: datetime, succeeded: bool, periods: list[date], written: int,
             published: bool, message: str | None = None) -> None:
    """Best effort: a run whose working database cannot be opened (locked, unwritable) is not logged."""
    try:
        with warehouse.connect() as con:
            record_run(con, started, datetime.now(UTC), succeeded, periods, written, published, message)
    except duckdb.Error:
        pass


def _execute(job, instance, tags: dict | None = None, asset_selection=None, partition_key: str | None = None,
             run_config: dict | None = None) -> None:
    progress.job_started(job.name, _step_count(job, asset_selection))
    result = job.execute_in_process(
        instance=instance,
        tags={**(tags or {}), TRIGGER_TAG: "cli"},
        run_config={**PROGRESS, **(run_config or {})},
        raise_on_error=False,
        asset_selection=asset_selection,
        partition_key=partition_key,
    )
    # A failed blocking check also fails its step: report the check, which says more than the step.
    failed_checks = [
        e.asset_check_evaluation_data for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]
    blocking = [c for c in failed_checks if c.blocking]
    if blocking:
        raise _blocking_checks_failed(blocking)
    if not result.success:
        raise _step_failure(result)


def _step_count(job, asset_selection) -> int:
    """The steps of the run that the progress display counts: asset steps, not check steps."""
    subset = job.get_subset(asset_selection=set(asset_selection)) if asset_selection else job
    return sum(1 for node in subset.graph.nodes if not progress.is_check_step(node.name))


def _step_failure(result) -> RunFailed:
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        data = event.step_failure_data
        user = data.user_failure_data
        if user is not None and user.description:
            problem = user.description.strip()
            if REFUSED_TAG in (user.metadata or {}):
                return RunFailed(problem, "Nothing was closed or issued; the run before it published as usual.",
                                 refused=True)
        else:
            error = data.error
            while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
                error = error.cause
            problem = _without_class(error.message) if error is not None else "unknown error"
        return _explain_step_problem(event.step_key, problem)
    return RunFailed("the run did not succeed", UNCHANGED)


def _without_class(message: str) -> str:
    """'dagster._core...Failure: text' or '_duckdb.IOException: IO Error: text' → the text."""
    return re.sub(r"^[A-Za-z_][\w.]*: ", "", message.strip(), count=1)


def _explain_step_problem(step: str | None, problem: str) -> RunFailed:
    locked = _LOCKED.search(problem)
    if locked:
        return RunFailed(
            f"the working database {locked['file']} is locked by another process (PID {locked['pid']})",
            f"Another tally run, a Dagster run or a DuckDB session has it open for writing. Wait for it to "
            f"finish (or close that session) and run tally again. {UNCHANGED}",
            locked=True,
        )
    if problem.startswith("invalid reference data"):
        return RunFailed(problem, "Fix these rows of the reference CSVs and run tally again; no dump was "
                                  f"loaded. {UNCHANGED}")
    if problem.startswith("raw directory"):
        return RunFailed(problem, UNCHANGED)
    if "Out of Memory" in problem or "failed to pin block" in problem:  # the latter when a commit runs out
        return _out_of_memory(step, problem)
    if step in DOCUMENT_STEPS:
        return RunFailed(f"step {step} failed: {problem}",
                         "The warehouse was published; the invoice documents may not match it yet. Fix the cause "
                         "and run tally again: every run brings the documents up to date with the published "
                         "warehouse.", published=True)
    return RunFailed(f"step {step} failed: {problem}" if step else problem,
                     f"{UNCHANGED} Fix the cause and run tally again; a run that stopped part-way resumes where "
                     "it stopped (work already done is kept).")


def _out_of_memory(step: str | None, problem: str) -> RunFailed:
    """DuckDB's own advice (``SET memory_limit``, fewer threads) names settings a tally user cannot
    reach: the message keeps DuckDB's first line and says which tally option gives it more memory."""
    first = problem.splitlines()[0].strip()
    used = re.search(r"/\s*([0-9.]+ \w+) used\)", first)
    limit = f" (the limit was {used[1]})" if used else ""
    return RunFailed(
        f"step {step} ran out of memory: {first}" if step else f"ran out of memory: {first}",
        f"DuckDB needed more memory than tally lets it use{limit}. Run again with a higher limit, e.g. "
        f"`tally run --memory-limit 2GB` (or TALLY_MEMORY_LIMIT=2GB; the default is {DEFAULT_MEMORY_LIMIT}). "
        f"{UNCHANGED} The run resumes where it stopped (work already done is kept).",
    )


def _blocking_checks_failed(blocking) -> RunFailed:
    names = ", ".join(f"{c.asset_key.to_user_string()}:{c.check_name}" for c in blocking)
    details = []
    for check in blocking:
        metadata = check.metadata or {}
        rows = metadata.get("dagster/row_count")
        preview = metadata.get("preview")
        head = f"{check.asset_key.to_user_string()}:{check.check_name}"
        if rows is not None:
            head += f" ({rows.value} row{' fails' if rows.value == 1 else 's fail'} it)"
        details.append(head + (f"; the first of them:\n{preview.value}" if preview is not None else ""))
    return RunFailed(
        f"blocking checks failed: {names}",
        "\n".join(details) + f"\n{UNCHANGED} What failed stays unpublished and is checked again on the next "
        "run. It means the data breaks an invariant tally relies on: find the records the rows name with "
        "`tally explain FILE:LINE`, fix the input or the reference data, and run tally again. With DAGSTER_HOME "
        "set, the check results are in the Dagster UI too.",
    )


def _billing_periods(warehouse: TallyWarehouse, instance: dg.DagsterInstance) -> tuple[list[date], list[str]]:
    """The months whose invoices no longer match the priced usage (in calendar order), and the partition
    keys of the one invoice run that rebuilds them: from the first of them to the last in the order of the
    billing-month partitions, which is not always the calendar's (partitions.py); a month between them is
    rebuilt unchanged. Each stale month is made a partition first: the Dagster instance may not have it yet
    (a new instance, or DAGSTER_HOME set after runs without it)."""
    with warehouse.connect() as con:
        periods = stale_periods(con)
    if not periods:
        return [], []
    stale = [p.isoformat() for p in periods]
    add_billing_months(instance, stale)
    return periods, covering_range(instance.get_dynamic_partitions(BILLING_MONTHS), stale)
