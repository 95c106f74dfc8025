"""A Dagster logger for the terminal: one line per step and per message an asset logs."""

import logging
import sys

import dagster as dg

from dagster_project.checks import checks

CHECK_STEP_SUFFIXES = tuple(sorted({f"_{spec.name}" for check in checks for spec in check.check_specs}))
SHOWN_EVENTS = {"STEP_START": "▸", "STEP_SUCCESS": "  ✓", "STEP_FAILURE": "  ✗", "ASSET_CHECK_EVALUATION": "  ·"}


class ProgressFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", {}) or {}
        event = meta.get("dagster_event")
        message = meta.get("orig_message") or record.getMessage()
        if event is None:
            # Messages the assets log; the engine's "... Not executing." notes about skipped steps are
            # left out, since the failure that caused them is reported on its own.
            return "" if record.levelno < logging.INFO or "Not executing" in message else f"    {message}"
        mark = SHOWN_EVENTS.get(event.event_type_value)
        if mark is None or (event.event_type_value != "ASSET_CHECK_EVALUATION" and _is_check_step(meta)):
            return ""
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            status = "passed" if data.passed else "FAILED"
            return f"{mark} check {data.check_name} on {data.asset_key.to_user_string()}: {status}"
        if event.event_type_value == "STEP_FAILURE":
            return f"{mark} {meta.get('step_key')}: {message}"
        return f"{mark} {meta.get('step_key')}"


def _is_check_step(meta: dict) -> bool:
    step = meta.get("step_key") or ""
    return any(step.endswith(suffix) for suffix in CHECK_STEP_SUFFIXES)


class _ProgressHandler(logging.StreamHandler):
    """Writes the lines the formatter keeps; records it formats to "" are dropped."""

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        if line:
            self.stream.write(line + self.terminator)
            self.flush()


@dg.logger(description="Compact progress lines on standard output.")
def progress_logger(init_context) -> logging.Logger:
    log = logging.Logger("tally.progress", level=logging.DEBUG)
    handler = _ProgressHandler(sys.stdout)
    handler.setFormatter(ProgressFormatter())
    log.addHandler(handler)
    return log
