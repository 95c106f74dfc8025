"""One `tally run` at a time per warehouse, and a way for `tally status` to see that one is running.

`tally run` holds an exclusive lock (``flock``) on ``<db stem>.run.lock`` beside the warehouse for the whole
run, and writes its pid and start time into it. `tally status` takes a shared lock for the few
milliseconds it reads the working database, without waiting: if a run holds the lock it says so and reads
only the published file. A run that finds the lock taken waits a few seconds (a status read ends in
milliseconds) and then refuses to start, naming the run that holds it. The lock is released by the
operating system when the process ends, however it ends, so a crashed run never leaves it held.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no run lock
    fcntl = None

WAIT_SECONDS = 5.0


def lock_path(db: Path) -> Path:
    return db.with_name(db.stem + ".run.lock")


@dataclass(frozen=True)
class Holder:
    """The run that holds the lock, as it wrote itself into the lock file."""

    pid: int | None
    started_at: str | None

    def __str__(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "pid unknown"
        return f"{pid}, started {self.started_at}" if self.started_at else pid


class RunInProgress(Exception):
    def __init__(self, db: Path, holder: Holder) -> None:
        super().__init__(
            f"another tally run ({holder}) is working on {db}; wait for it to finish (see `tally status "
            f"--db {db}`), then run again"
        )
        self.holder = holder


@contextmanager
def exclusive(db: Path, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the run lock of ``db`` for the block; RunInProgress if another run keeps it past ``wait``."""
    if fcntl is None:
        yield
        return
    path = lock_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RunInProgress(db, _read(fd)) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(),
                                  "started_at": datetime.now(UTC).isoformat(timespec="seconds")}).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def shared(db: Path) -> Iterator[Holder | None]:
    """For readers: yields None while no run holds the lock (and keeps one from starting until the block
    ends), or the Holder of the lock, without waiting. Creates nothing."""
    path = lock_path(db)
    if fcntl is None or not path.exists():
        yield None
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield _read(fd)
            return
        try:
            yield None
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read(fd: int) -> Holder:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        data = {}
    return Holder(data.get("pid"), data.get("started_at"))
