"""The documents folder: ``<documents dir>/<YYYY-MM>/<invoice id>.html`` and ``index.html`` per month.

A month's folder is replaced whole, never edited in place: the new files are written to a hidden
folder beside it (``.<YYYY-MM>.new-<pid>``), the old folder is renamed away and the new one renamed
into its place, then the old one is deleted. So a folder never mixes the documents of two runs, and an
invoice that no longer exists loses its document. Between the two renames the month's folder is
briefly absent; a crash there leaves the hidden folders, which the next write of that month removes.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path


def month_folder(documents_dir: Path, period_start: date) -> Path:
    """``<documents dir>/<YYYY-MM>``, four digits of year also before 1000 (``strftime`` drops the zeros)."""
    return documents_dir / period_start.isoformat()[:7]


def replace_month(documents_dir: Path, period_start: date, files: dict[str, str]) -> Path | None:
    """Make the month's folder hold exactly ``files`` (name -> UTF-8 text); with no files, remove it.
    Returns the folder, or None when there is none."""
    folder = month_folder(documents_dir, period_start)
    _remove_leftovers(folder)
    if not files:
        _remove(folder)
        return None
    documents_dir.mkdir(parents=True, exist_ok=True)
    new = folder.with_name(f".{folder.name}.new-{os.getpid()}")
    new.mkdir()
    for name, text in files.items():
        if Path(name).name != name or name.startswith("."):
            raise ValueError(f"not a plain file name: {name!r}")
        (new / name).write_text(text, encoding="utf-8")
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    if folder.exists():
        folder.rename(old)
    new.rename(folder)
    _remove(old)
    return folder


def _remove_leftovers(folder: Path) -> None:
    for leftover in folder.parent.glob(f".{folder.name}.*-*"):
        _remove(leftover)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
