"""Issuing the close files a working database has not issued, before a run loads anything new.

Each close is issued from exactly its inputs: the runner loads its files alone, with its reference copy,
invoices what that made stale, and issues it through the close job's issue step; nothing is published
on the way (the run publishes once, at its end). This is how a run from an empty warehouse reproduces
every issued document, and how a close killed after its close file was written is finished.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg

from dagster_project.definitions import build_definitions
from dagster_project.progress import progress_logger
from dagster_project.resources import TallyWarehouse
from transforms.lifecycle.control import ControlError, read_closes
from transforms.lifecycle.issue import issued_months, loaded_files
from transforms.lifecycle.plan import replay_plan
from transforms.warehouse import state_path

ISSUE_STEPS = [dg.AssetKey(["lifecycle", "issued_documents"]), dg.AssetKey(["lifecycle", "documents"])]


def issue_pending_closes(warehouse: TallyWarehouse, instance: dg.DagsterInstance,
                         bring_up_to_date: Callable, execute: Callable, failed: Callable[[str, str], Exception]) -> int:
    """Issue every close file of the control folder not issued yet, in order; returns how many."""
    try:
        closes = read_closes(Path(warehouse.control_dir))
    except ControlError as error:
        raise failed(str(error), "Close files and their reference copies are inputs: restore the file; "
                                 "nothing was run.") from None
    if not closes:
        return 0
    with warehouse.connect() as con:
        plan = replay_plan(closes, issued_months(con), loaded_files(con))
    if plan.rebuild:
        _start_from_empty(Path(warehouse.db))
    for close in plan.closes:
        only = TallyWarehouse(**{**_fields(warehouse), "reference_dir": str(close.reference_dir),
                                 "only_close": str(close.path)})
        with only.holding():
            bring_up_to_date(only, instance, publish=False)
            defs = build_definitions(only, loggers={"progress": progress_logger})
            execute(defs.resolve_job_def("close"), instance, asset_selection=ISSUE_STEPS,
                    run_config={"ops": {"lifecycle__issued_documents": {"config": {"every_close": False}}}})
            with only.connect() as con:
                if close.month not in issued_months(con):
                    raise failed(f"close {close.label} could not be issued from the files it records",
                                 "Its files must include every file of the closes before it; see the run's log.")
    return len(plan.closes)


def _fields(warehouse: TallyWarehouse) -> dict:
    return {name: getattr(warehouse, name) for name in ("raw_dir", "reference_dir", "db", "memory_limit",
                                                       "documents_dir", "control_dir")}


def _start_from_empty(db: Path) -> None:
    """The working database holds files a pending close does not record: it is rebuilt from the dumps."""
    state = state_path(db)
    for path in (state, state.with_name(state.name + ".wal")):
        path.unlink(missing_ok=True)
