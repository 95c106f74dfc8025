"""Files that survive a power loss: written and synced before anything points at them."""

from __future__ import annotations

import os
from pathlib import Path


def write_synced(path: Path, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to a new file and wait until it is on disk: a file or folder renamed or
    linked into place after this never holds a file that a power loss emptied."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data.encode("utf-8") if isinstance(data, str) else data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_folder(folder: Path) -> None:
    """Make the entries of ``folder`` (names created or renamed in it) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
