"""The control folder (SPEC §7): one close file per closed month, the inputs its documents are computed from.

``<control-dir>/close-YYYY-MM.json`` records the month, the issue date, the sha256 of every dump file loaded
(by path relative to the raw folder) and the sha256 of every reference file, whose copy sits in
``<control-dir>/close-YYYY-MM/reference/``. Close files are inputs like the dumps: written once, never
edited, kept. The reference copy is written (and synced) first and the JSON last, by a hard link that
fails if the file exists: a close file is there whole or not at all, and a copy without its JSON (a killed
close) is written again by the next close of that month.

Closes are taken in the order (issue date, month). A new close must keep that order also for the
numbers it issues: its month is not closed yet and has ended by its issue date, its issue date is not
before the latest one, and on the latest issue date its month is after every month already closed that
day (the numbers of one day follow the months, SPEC §7 "Numbers").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from transforms.durable import sync_folder, write_synced

DEFAULT_CONTROL_DIR = "data/control"
FORMAT = 1
_NAME = re.compile(r"close-(?P<month>[0-9]{4}-[0-9]{2})\.json")


class ControlError(Exception):
    """A close file that cannot be used: named, with the problem. The run stops before anything is issued."""


class CloseRefused(Exception):
    """A close the lifecycle does not allow (a month closed twice, an issue date going backwards)."""


@dataclass(frozen=True)
class Close:
    month: date  # the first day of the closed month
    issue_date: date
    files: dict[str, str]  # dump file (relative to the raw folder) -> sha256
    reference: dict[str, str]  # reference file name -> sha256 of the copy
    path: Path  # the close file
    sha256: str  # of the close file's bytes

    @property
    def reference_dir(self) -> Path:
        return reference_dir(self.path.parent, self.month)

    @property
    def label(self) -> str:
        return self.month.isoformat()[:7]


def month_label(month: date) -> str:
    return month.isoformat()[:7]


def close_path(control_dir: Path, month: date) -> Path:
    return Path(control_dir) / f"close-{month_label(month)}.json"


def reference_dir(control_dir: Path, month: date) -> Path:
    return Path(control_dir) / f"close-{month_label(month)}" / "reference"


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the first day of the month; ValueError otherwise."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", text or ""):
        raise ValueError(f"'{text}' is not a month: write YYYY-MM, e.g. 2026-09")
    return date.fromisoformat(f"{text}-01")


def read_closes(control_dir: Path) -> list[Close]:
    """Every close file of ``control_dir`` (none if it does not exist), in the order (issue date, month)."""
    folder = Path(control_dir)
    if not folder.is_dir():
        return []
    closes = [read_close(path) for path in sorted(folder.glob("close-*.json")) if _NAME.fullmatch(path.name)]
    return sorted(closes, key=lambda c: (c.issue_date, c.month))


def read_close(path: Path) -> Close:
    """One close file, checked against its name and its reference copy."""
    try:
        data = path.read_bytes()
        body = json.loads(data)
        month = parse_month(body["month"])
        close = Close(month, date.fromisoformat(body["issue_date"]), dict(body["files"]),
                      dict(body["reference"]), path, hashlib.sha256(data).hexdigest())
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ControlError(f"{path}: not a readable close file ({error})") from None
    if path.name != f"close-{close.label}.json":
        raise ControlError(f"{path}: records month {close.label}, not the month of its name")
    for name, sha256 in sorted(close.reference.items()):
        copy = close.reference_dir / name
        if not copy.is_file() or _sha256(copy) != sha256:
            raise ControlError(f"{copy}: the reference copy of close {close.label} is missing or was changed "
                               "(close files and their reference copies are never edited: restore it)")
    return close


def check_new_close(closes: list[Close], month: date, issue_date: date) -> None:
    """Raise ``CloseRefused`` when closing ``month`` on ``issue_date`` breaks the lifecycle's order."""
    label = month_label(month)
    done = next((c for c in closes if c.month == month), None)
    if done is not None:
        raise CloseRefused(f"{label} is closed already (issued {done.issue_date}, {done.path}); a month "
                           "closes once: late data for it is issued as adjustments by the next close")
    month_end = (month + timedelta(days=31)).replace(day=1)
    if issue_date < month_end:
        raise CloseRefused(f"issue date {issue_date} is before {label} has ended: a month is closed on or after "
                           f"{month_end}")
    if closes and issue_date < closes[-1].issue_date:
        raise CloseRefused(f"issue date {issue_date} is before {closes[-1].issue_date}, the issue date of "
                           f"close {closes[-1].label}: issue dates never go backwards")
    same_day = [c for c in closes if c.issue_date == issue_date and c.month > month]
    if same_day:
        raise CloseRefused(f"{label} would be numbered after {same_day[-1].label}, closed on the same issue date "
                           f"{issue_date}: documents are numbered in the order (issue date, month); close "
                           f"{label} with a later issue date")


def write_close(control_dir: Path, month: date, issue_date: date, files: dict[str, str],
                reference_from: Path) -> Close:
    """Copy the reference files and write the close file; refuses (``CloseRefused``) an existing one."""
    control_dir = Path(control_dir)
    path = close_path(control_dir, month)
    if path.exists():
        raise CloseRefused(f"{path} exists already: a month closes once")
    copy = reference_dir(control_dir, month)
    shutil.rmtree(copy.parent, ignore_errors=True)  # a copy a killed close left without its close file
    copy.mkdir(parents=True)
    reference: dict[str, str] = {}
    for source in sorted(Path(reference_from).glob("*.csv")):
        data = source.read_bytes()
        write_synced(copy / source.name, data)
        reference[source.name] = hashlib.sha256(data).hexdigest()
    sync_folder(copy)
    body = {"format": FORMAT, "month": month_label(month), "issue_date": issue_date.isoformat(),
            "files": dict(sorted(files.items())), "reference": reference}
    data = (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write_synced(tmp, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise CloseRefused(f"{path} exists already: a month closes once") from None
    finally:
        tmp.unlink(missing_ok=True)
    sync_folder(control_dir)
    return read_close(path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
