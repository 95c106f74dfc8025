"""Raw layer: find the dump files under ``<raw-dir>/<source>/`` and split them into lines.

Contract (SPEC §1): files end in ``.jsonl`` or ``.ndjson``, optionally followed by ``.gz``; a file is
identified by the sha256 of its bytes as stored; lines end at ``\\n`` only (a ``\\r`` before it is
dropped), a leading UTF-8 BOM is ignored, and lines of only whitespace are not records. A line that is
not valid UTF-8 is kept (with replacement characters) and flagged, so staging can quarantine it.

Nothing under the raw folder is skipped in silence: a folder that cannot be listed, a dump that cannot be
opened or read whole, is reported as refused (``transforms.raw.refused``), and a raw folder that holds
no source folder at all is a mistake in the command (``check_raw_dir``).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from transforms.raw.refused import (
    CHANGED_WHILE_READ,
    NOT_A_FILE,
    Refused,
    broken_gzip,
    relative,
    unreadable,
    unreadable_folder,
)

SOURCES = ("samplehc", "tula", "sequence", "paygentic")
DUMP_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
BLANK = " \t\r"
_NOT_BLANK = "[^" + "".join(f"\\x{ord(c):02x}" for c in BLANK) + "]"  # a regex class

RAW_LINES_SCHEMA = {
    "source_file": pl.String,
    "line_number": pl.Int64,
    "envelope": pl.String,
    "utf8_valid": pl.Boolean,
}


Stamp = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode: while it holds, so do the bytes


@dataclass(frozen=True)
class DumpFile:
    source: str
    path: Path
    source_file: str  # path relative to the raw dir, with "/" separators
    sha256: str
    stamp: Stamp

    @property
    def size(self) -> int:
        return self.stamp[0]


class RawDirError(ValueError):
    """The raw folder cannot be what the command meant: missing, not a folder, or without any source folder
    (SPEC §6: a mistake in the command, exit 2). ``hint`` says what to pass instead."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


RAW_DIR_HINT = (f"pass --raw-dir DIR or set TALLY_RAW_DIR to the folder with one subfolder per source "
                f"({', '.join(SOURCES)})")


def check_raw_dir(raw_dir: Path) -> None:
    """Raise RawDirError unless ``raw_dir`` is a folder holding at least one source folder.

    A folder one level too high (or too low) holds none of them: loading it would find no file and
    publish an empty month as if nothing had happened, so it is refused, naming the folders below it
    that do hold source folders.
    """
    if not raw_dir.exists():
        raise RawDirError(f"raw directory {raw_dir} does not exist", RAW_DIR_HINT)
    if not raw_dir.is_dir():
        raise RawDirError(f"raw directory {raw_dir} is not a directory", RAW_DIR_HINT)
    try:
        children = sorted(entry.path for entry in os.scandir(raw_dir) if entry.is_dir())
    except OSError as error:
        raise RawDirError(f"raw directory {raw_dir} cannot be read ({error.strerror or error})", RAW_DIR_HINT) from None
    if any(Path(child).name in SOURCES for child in children):
        return
    below = [(child, [s for s in SOURCES if Path(child, s).is_dir()]) for child in children]
    found = "".join(f"{child} holds {', '.join(sources)}; " for child, sources in below if sources)
    raise RawDirError(f"raw directory {raw_dir} holds none of the source folders {', '.join(SOURCES)}",
                      found + RAW_DIR_HINT)


@dataclass
class Discovery:
    """What a look at the raw folder found: the dump files to consider, and the entries refused because
    they cannot be read (``transforms.raw.refused``): a folder rglob would skip in silence, a file that
    cannot be opened or is not a regular file."""

    files: list[DumpFile]
    refused: list[Refused]


def discover_dump_files(raw_dir: Path, hashed: Mapping[str, tuple[Stamp, str]] | None = None) -> Discovery:
    """Every dump file of every source, sorted by relative path (deterministic load order).

    ``hashed`` maps a file's absolute path to its stamp and sha256 when it was last hashed
    (``transforms.raw.load.known_hashes``): a file with the same stamp is not read again. Hashing every
    byte was most of what a run with nothing new did. The others are hashed on several threads
    (hashlib and file reads release the GIL).
    """
    refused: list[Refused] = []
    paths = [
        (source, path)
        for source in SOURCES if (raw_dir / source).is_dir()
        for path in _dump_paths(raw_dir / source, raw_dir, refused)
    ]
    hashed = hashed or {}

    def digest(path: Path) -> tuple[str, Stamp] | str:
        """The sha256 and stamp of a regular file, or why it cannot be read."""
        try:
            status = path.stat()
            if not stat.S_ISREG(status.st_mode):
                return NOT_A_FILE
            stamp = stamp_of(status)  # taken before reading: a file changed meanwhile is hashed again next time
            known = hashed.get(str(path.absolute()))
            return (known[1] if known is not None and known[0] == stamp else _sha256(path)), stamp
        except OSError as error:
            return unreadable(error)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        digests = list(pool.map(lambda found: digest(found[1]), paths))
    found = []
    for (source, path), result in zip(paths, digests, strict=True):
        source_file = path.relative_to(raw_dir).as_posix()
        if isinstance(result, str):
            refused.append(Refused(source_file, result))
        else:
            found.append(DumpFile(source, path, source_file, *result))
    return Discovery(sorted(found, key=lambda f: f.source_file), sorted(refused, key=lambda r: r.source_file))


def _dump_paths(folder: Path, raw_dir: Path, refused: list[Refused]) -> list[Path]:
    """Every entry under ``folder`` whose name ends like a dump (symbolic links to folders not followed,
    as rglob did). A folder that cannot be listed is refused: rglob skipped it in silence, and its
    records were in no count."""

    def cannot_list(error: OSError) -> None:
        where = error.filename if error.filename is not None else folder
        refused.append(Refused(relative(where, raw_dir) + "/", unreadable_folder(error)))

    return sorted(
        Path(top, name)
        for top, _folders, names in os.walk(folder, onerror=cannot_list)
        for name in names if name.endswith(DUMP_SUFFIXES)
    )


def file_stamp(path: Path) -> Stamp:
    """What changes whenever a file's bytes do: a rewrite in place changes at least the ctime."""
    return stamp_of(path.stat())


def stamp_of(status: os.stat_result) -> Stamp:
    return status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Unreadable(Exception):
    """A dump file that cannot be read whole; ``reason`` says why (``transforms.raw.refused``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# The raw load reads the next chunk while it inserts the last (``load._load_batches``), so two are in
# memory with their redacted copies: at 10M records, 16 MB chunks made the load the run's peak (1,176
# MiB); 8 MB chunks loaded faster too (38.7 s against 41.6 s alone, 918-944 MiB against 1,020). Once the
# reader was faster than the inserts, its chunk waited more often and 8 MB chunks peaked at 1,134-1,246
# MiB at 10M; 4 MB chunks at 995-999 MiB, in the same time (21.6-23.8 s against 21.4-22.1 s).
CHUNK_BYTES = 4 << 20


def read_lines(dump: DumpFile, chunk_bytes: int | None = None) -> Iterator[pl.DataFrame]:
    """The file's lines (``split_lines``), decompressed, in frames of whole lines of about ``chunk_bytes``
    (default ``CHUNK_BYTES``; a longer line comes whole), so that memory follows the chunk, not the
    file; else Unreadable.

    The caller loads a file's frames in one transaction and keeps them only once the last one came: a
    truncated or corrupt gzip stream, or an I/O error, must not load part of a file (its other lines
    would then never load, the file counting as loaded). A file whose stamp moved since it was hashed
    (written to while this run read it: a dump still being copied) may not hold the bytes of its sha256,
    so it is left for the next run.
    """
    chunk_bytes = max(chunk_bytes or CHUNK_BYTES, 3)  # the first block holds any BOM whole
    first_line, carry, first = 1, b"", True
    try:
        with dump.path.open("rb") as raw, (gzip.GzipFile(fileobj=raw) if dump.path.name.endswith(".gz")
                                           else nullcontext(raw)) as handle:
            while block := handle.read(chunk_bytes):
                data = carry + block
                if first:
                    data, first = data.removeprefix(b"\xef\xbb\xbf"), False
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                frame, lines = _split(data[:cut], dump.source_file, first_line)
                yield frame
                first_line += lines
                carry = data[cut + 1:]
            if carry:
                yield split_lines(carry, dump.source_file, first_line)
        changed = file_stamp(dump.path) != dump.stamp
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise Unreadable(broken_gzip(error)) from None
    except OSError as error:
        raise Unreadable(unreadable(error)) from None
    if changed:
        raise Unreadable(CHANGED_WHILE_READ)


def split_lines(data: bytes, source_file: str, first_line: int = 1) -> pl.DataFrame:
    """One row per non-blank line of ``data`` (lines numbered from ``first_line``): ``source_file,
    line_number, envelope, utf8_valid``."""
    return _split(data, source_file, first_line)[0]


def _split(data: bytes, source_file: str, first_line: int) -> tuple[pl.DataFrame, int]:
    """``split_lines``, and the number of lines in ``data``, blank ones included (counting the
    separators again was a pass over every byte)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raw_lines = data.split(b"\n")
        lines = pl.DataFrame(
            {
                "envelope": [line.decode("utf-8", errors="replace") for line in raw_lines],
                "utf8_valid": [_is_utf8(line) for line in raw_lines],
            }
        )
    else:
        lines = pl.DataFrame({"envelope": [text]}).select(pl.col("envelope").str.split("\n").explode())
        lines = lines.with_columns(pl.lit(True).alias("utf8_valid"))
    # Each is a pass over every byte: a CR is looked for once in the bytes, and a blank line is one
    # without a character that is not blank (no stripped copy of every line).
    envelope = pl.col("envelope").str.strip_suffix("\r") if b"\r" in data else pl.col("envelope")
    start = pl.lit(first_line, dtype=pl.Int64)  # a row index is 32 bits: a file may have more lines
    return (
        lines.with_columns(
            pl.int_range(start, start + pl.len(), dtype=pl.Int64).alias("line_number"),
            pl.lit(source_file).alias("source_file"),
            envelope,
        )
        .filter(pl.col("envelope").str.contains(_NOT_BLANK))
        .select(list(RAW_LINES_SCHEMA))
    ), lines.height


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
