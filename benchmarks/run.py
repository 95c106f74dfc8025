"""Benchmark `tally run` against the JSON-parse floor, measured in the same run on the same files.

    .venv/bin/python -m benchmarks.run --records 1000000 [--records 10000000] [--work /tmp/tally-bench]

For each size: generate the dumps (100 files per source) and hold back the newest file of each source
(1%); measure the floor (DuckDB parsing every line once, `floor.sql`); `tally run` from an empty
warehouse; a run with nothing new (the fixed cost); the held-back files added (incremental); and a full
run from scratch over all files, whose invoices must equal the incremental run's. Each step runs in its
own process; its wall time and peak RSS are taken from that process alone (wait4). The floor, the run
with nothing new and the incremental run are each measured ``--repeat`` times (the incremental run from
a copy of the warehouse as it was before it) and reported as the median, with the range: one short run
is at the mercy of whatever else the machine does. Times are reported with their ratios to the floor and
the fixed cost, never asserted: machines differ.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from benchmarks.generate import SOURCES, Plan, generate
from benchmarks.steps import format_steps, instance_home, step_durations

HERE = Path(__file__).parent
TALLY = Path(sys.executable).with_name("tally")


@dataclass
class Measure:
    seconds: float
    peak_mib: float
    steps: list[tuple[str, str, float]] = field(default_factory=list)
    spread: tuple[float, float] | None = None  # fastest and slowest of repeated runs


def repeated(times: int, run: Callable[[], Measure], before_again: Callable[[], None] = lambda: None) -> Measure:
    """The median wall time of ``times`` runs, the largest peak RSS and the last run's steps;
    ``before_again`` restores what a run changed before the next one."""
    runs = []
    for attempt in range(times):
        if attempt:
            before_again()
        runs.append(run())
    seconds = [r.seconds for r in runs]
    return Measure(statistics.median(seconds), max(r.peak_mib for r in runs), runs[-1].steps,
                   (min(seconds), max(seconds)) if times > 1 else None)


def measure(command: list[str], env: dict | None = None) -> Measure:
    """Run ``command`` once. What earlier steps wrote (the generated dumps, a restored copy of the
    warehouse) is flushed to disk first, so a run never pays for the write-back of another's files."""
    os.sync()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()[-3000:]}")
    return Measure(elapsed, usage.ru_maxrss / 1024)


def floor_command(raw: Path) -> list[str]:
    script = (
        "import duckdb, sys; sql = open(sys.argv[1]).read(); "
        "print(duckdb.connect().sql(sql, params=[sys.argv[2]] * sql.count('?')).fetchall())"
    )
    return [sys.executable, "-c", script, str(HERE / "floor.sql"), str(raw)]


def tally_command(work: Path, db: Path, memory_limit: str | None = None) -> list[str]:
    return [str(TALLY), "run", "--raw-dir", str(work / "raw"), "--reference-dir", str(work / "reference"),
            "--db", str(db), "--documents-dir", str(documents_dir(db)),
            *(["--memory-limit", memory_limit] if memory_limit else [])]


def documents_dir(db: Path) -> Path:
    """Each warehouse its own documents folder: the run from scratch must not find the incremental
    run's documents up to date."""
    return db.with_name(f"{db.stem}-documents")


def invoices(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql("SELECT * FROM invoice_lines ORDER BY ALL").fetchall()
    finally:
        con.close()


def bench(records: int, work: Path, steps: bool = False, memory_limit: str | None = None, repeat: int = 3) -> dict:
    generated = work / "generated"  # written last: a generation that stopped part-way starts again
    if not generated.exists():
        for path in (work / "raw", work / "reference"):
            shutil.rmtree(path, ignore_errors=True)
        generate(work, Plan(records=records, records_per_file=max(1, records // 400)))
        generated.touch()
    held = work / "held"
    held.mkdir(exist_ok=True)
    for path in [*work.glob("*.duckdb*"), *work.glob("*-documents"), work / "invoices", work / "dagster-home"]:
        # warehouses, their spill folders, their documents, the runs
        _remove(path)
    home, seen = instance_home(work), set()

    def tally(db: Path, profile: bool = steps) -> Measure:
        command = tally_command(work, db, memory_limit)
        if not profile:
            return measure(command)
        result = measure(command, env={**os.environ, "DAGSTER_HOME": str(home)})
        result.steps = step_durations(home, seen)
        return result

    for source in SOURCES:
        newest = sorted((work / "raw" / source).glob("part-*"))[-1]
        shutil.move(newest, held / f"{source}__{newest.name}")
    try:
        floor = repeated(repeat, lambda: measure(floor_command(work / "raw")))
        full = tally(work / "warehouse.duckdb")
        noop = repeated(repeat, lambda: tally(work / "warehouse.duckdb"))
    finally:  # the dumps are left whole, whatever happened
        for path in held.iterdir():
            source, name = path.name.split("__")
            shutil.move(path, work / "raw" / source / name)
    saved = work / "before-increment"
    shutil.rmtree(saved, ignore_errors=True)
    saved.mkdir()
    documents = documents_dir(work / "warehouse.duckdb")
    for path in work.glob("warehouse.*duckdb*"):
        shutil.copy2(path, saved / path.name)
    shutil.copytree(documents, saved / documents.name, symlinks=True)

    def restore() -> None:  # the warehouse and its documents as the run with nothing new left them
        for path in [*work.glob("warehouse.*duckdb*"), documents]:
            _remove(path)
        for path in saved.iterdir():
            if path.is_dir():
                shutil.copytree(path, work / path.name, symlinks=True)
            else:
                shutil.copy2(path, work / path.name)

    incremental = repeated(repeat, lambda: tally(work / "warehouse.duckdb"), restore)
    shutil.rmtree(saved)
    scratch = tally(work / "scratch.duckdb", profile=True)  # the step profile of a full run, always
    same = invoices(work / "warehouse.duckdb") == invoices(work / "scratch.duckdb")
    return {"records": records, "floor": floor, "full": full, "noop": noop, "incremental": incremental,
            "scratch": scratch, "same_invoices": same}


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


TARGETS = {  # shown beside the figures, never asserted
    "ratio": 10.0,             # marginal cost of a run from an empty warehouse / the parse floor
    "incremental": 0.05,       # marginal cost of the +1% run / that of the full run
    "noop_seconds": 5.0,       # a run with nothing new, start-up included
    "peak_mib": 1536,          # peak RSS of any run at the largest size
    "peak_growth": 1.2,        # that peak / the peak at the smallest size
}


def report(result: dict) -> str:
    floor, full, noop, inc = result["floor"], result["full"], result["noop"], result["incremental"]
    marginal = full.seconds - noop.seconds
    incremental = inc.seconds - noop.seconds
    rows = [
        f"records: {result['records']:,}",
        f"  floor (parse once)     {floor.seconds:8.1f} s  {floor.peak_mib:7.0f} MiB{_spread(floor)}",
        f"  full run               {full.seconds:8.1f} s  {full.peak_mib:7.0f} MiB  "
        f"{result['records'] * 0.99 / full.seconds:,.0f} records/s",
        f"  nothing new (fixed)    {noop.seconds:8.1f} s  {noop.peak_mib:7.0f} MiB{_spread(noop)}"
        f"   (target <= {TARGETS['noop_seconds']:.0f} s)",
        f"  +1% files              {inc.seconds:8.1f} s  {inc.peak_mib:7.0f} MiB{_spread(inc)}",
        f"  run from scratch       {result['scratch'].seconds:8.1f} s  {result['scratch'].peak_mib:7.0f} MiB"
        "   (in a Dagster instance of its own: its steps below)",
        f"  marginal / floor       {marginal / floor.seconds:8.1f} x   (target <= {TARGETS['ratio']:.0f})",
        f"  incremental / full     {incremental / marginal:8.1%}     (target <= {TARGETS['incremental']:.0%})",
        f"  incremental invoices equal a run from scratch: {result['same_invoices']}",
    ]
    for name in ("full", "noop", "incremental", "scratch"):
        if result[name].steps:
            rows += [f"  {name}:", format_steps(result[name].steps)]
    return "\n".join(rows)


def _spread(measured: Measure) -> str:
    return f"  (median; {measured.spread[0]:.1f}–{measured.spread[1]:.1f} s)" if measured.spread else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, action="append", help="size to run (repeatable); default 1M and 10M")
    parser.add_argument("--work", type=Path, default=Path("/tmp/tally-bench"))
    parser.add_argument("--steps", action="store_true",
                        help="keep the runs in a Dagster instance of their own and print each run's steps, "
                             "slowest first")
    parser.add_argument("--memory-limit", metavar="SIZE", help="passed to every `tally run` (default: tally's own)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="runs of the floor, of a run with nothing new and of the incremental run; "
                             "the median is reported (default 3)")
    args = parser.parse_args()
    results = []
    for records in args.records or [1_000_000, 10_000_000]:
        results.append(bench(records, args.work / str(records), args.steps, args.memory_limit, args.repeat))
        print(report(results[-1]), flush=True)
    if len(results) > 1:
        small, large = results[0], results[-1]
        peak = max(r.peak_mib for r in (large["full"], large["incremental"], large["scratch"]))
        base = max(r.peak_mib for r in (small["full"], small["incremental"], small["scratch"]))
        print(f"peak RSS at {large['records']:,}: {peak:.0f} MiB (target <= {TARGETS['peak_mib']} MiB); "
              f"/ at {small['records']:,} records: {peak / base:.2f}x (target <= {TARGETS['peak_growth']})")


if __name__ == "__main__":
    main()
