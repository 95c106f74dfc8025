"""Where a `tally run`'s time goes: the duration of each Dagster step of the runs it launched.

`benchmarks.run --steps` points the measured runs at a Dagster instance of their own (``DAGSTER_HOME``),
so that their step timings are kept; this module reads them back after each measured run.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg


def instance_home(work: Path) -> Path:
    home = work / "dagster-home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").touch()
    return home


def step_durations(home: Path, seen: set[str]) -> list[tuple[str, str, float]]:
    """(job, step, seconds) of every run in the instance at ``home`` not in ``seen``, which is updated."""
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            records = sorted(instance.get_run_records(), key=lambda r: r.create_timestamp)
            steps = []
            for record in records:
                run = record.dagster_run
                if run.run_id in seen:
                    continue
                seen.add(run.run_id)
                for stat in instance.get_run_step_stats(run.run_id):
                    if stat.start_time and stat.end_time:
                        steps.append((run.job_name, stat.step_key, stat.end_time - stat.start_time))
            return steps
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def format_steps(steps: list[tuple[str, str, float]]) -> str:
    """Every step, slowest first, and what all steps took together."""
    total = sum(seconds for _, _, seconds in steps)
    lines = [f"      {seconds:7.1f} s  {job}: {step}" for job, step, seconds in sorted(steps, key=lambda s: -s[2])]
    return "\n".join([f"    steps: {total:.1f} s in {len(steps)} steps:", *lines])
