"""A Dagster logger for the terminal: one line per step and per message an asset logs.

Every record the run logs becomes a `ProgressEvent` (`describe`). Without a display the logger writes
the event's plain line to standard output; `tally run` on a terminal installs a display (`showing`) that
draws progress bars from the same events instead. Assets report progress inside a step, such as the raw
load's files, as debug messages made by `file_progress` (plain output leaves debug messages out).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import dagster as dg

from dagster_project.checks import STEPS as CHECK_STEPS
SHOWN_EVENTS = {"STEP_START": "▸", "STEP_SUCCESS": "  ✓", "STEP_FAILURE": "  ✗", "ASSET_CHECK_EVALUATION": "  ·"}
_FILE_PROGRESS = re.compile(r"^loaded dump file (?P<done>[0-9]+) of (?P<total>[0-9]+): (?P<name>.*)$")


def file_progress(done: int, total: int, name: str) -> str:
    """The debug message an asset logs after each of ``total`` files; displays turn it into a bar."""
    return f"loaded dump file {done} of {total}: {name}"


@dataclass(frozen=True)
class ProgressEvent:
    kind: str  # step_start, step_success, step_failure, check, message, file, or "" (not shown)
    line: str  # the line plain output prints, "" for none
    step: str | None = None
    done: int = 0
    total: int = 0
    name: str = ""


def describe(record: logging.LogRecord) -> ProgressEvent:
    meta = getattr(record, "dagster_meta", {}) or {}
    event = meta.get("dagster_event")
    message = meta.get("orig_message") or record.getMessage()
    step = meta.get("step_key")
    if event is None:
        found = _FILE_PROGRESS.match(message)
        if found:
            return ProgressEvent("file", "", step, int(found["done"]), int(found["total"]), found["name"])
        # Messages the assets log; the engine's "... Not executing." notes about skipped steps are
        # left out, since the failure that caused them is reported on its own.
        if record.levelno < logging.INFO or "Not executing" in message:
            return ProgressEvent("", "")
        return ProgressEvent("message", f"    {message}", step)
    kind = event.event_type_value
    mark = SHOWN_EVENTS.get(kind)
    if mark is None or (kind != "ASSET_CHECK_EVALUATION" and is_check_step(step or "")):
        return ProgressEvent("", "")
    if kind == "ASSET_CHECK_EVALUATION":
        data = event.event_specific_data
        # A failed WARN check (files_readable: refused input files) did not fail the run: not shown as FAILED.
        warning = getattr(data, "severity", None) == dg.AssetCheckSeverity.WARN
        status = "passed" if data.passed else "WARNING" if warning else "FAILED"
        return ProgressEvent("check", f"{mark} check {data.check_name} on {data.asset_key.to_user_string()}: {status}",
                             step)
    if kind == "STEP_FAILURE":
        return ProgressEvent("step_failure", f"{mark} {step}: {message}", step)
    return ProgressEvent("step_start" if kind == "STEP_START" else "step_success", f"{mark} {step}", step)


def is_check_step(step: str) -> bool:
    return step in CHECK_STEPS


class ProgressFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return describe(record).line


class Display(Protocol):
    def job_started(self, name: str, steps: int) -> None: ...

    def show(self, event: ProgressEvent) -> None: ...


_display: Display | None = None


@contextmanager
def showing(display: Display) -> Iterator[Display]:
    """Send the progress of the runs started in the block to ``display`` instead of plain lines."""
    global _display
    previous, _display = _display, display
    try:
        yield display
    finally:
        _display = previous


def job_started(name: str, steps: int) -> None:
    """The runner announces each job with the number of steps it will run (not counting checks)."""
    if _display is not None:
        _display.job_started(name, steps)


class _ProgressHandler(logging.StreamHandler):
    """Writes the lines the formatter keeps (records it formats to "" are dropped), or hands every
    event to the display `tally run` installed."""

    def emit(self, record: logging.LogRecord) -> None:
        if _display is not None:
            _display.show(describe(record))
            return
        line = self.format(record)
        if line:
            self.stream.write(line + self.terminator)
            self.flush()


@dg.logger(description="Compact progress lines on standard output.")
def progress_logger(init_context) -> logging.Logger:
    log = logging.Logger("tally.progress", level=logging.DEBUG)  # noqa: LOG001 (private, not in the registry)
    handler = _ProgressHandler(sys.stdout)
    handler.setFormatter(ProgressFormatter())
    log.addHandler(handler)
    return log
