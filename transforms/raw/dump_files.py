"""Raw layer: find the dump files under ``<raw-dir>/<source>/`` and split them into lines.

Contract (SPEC §1): files end in ``.jsonl`` or ``.ndjson``, optionally followed by ``.gz``; a file is
identified by the sha256 of its bytes as stored; lines end at ``\\n`` only (a ``\\r`` before it is
dropped), a leading UTF-8 BOM is ignored, and lines of only whitespace are not records. A line that is
not valid UTF-8 is kept (with replacement characters) and flagged, so staging can quarantine it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

SOURCES = ("samplehc", "tula", "sequence", "paygentic")
DUMP_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
BLANK = " \t\r"

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


def discover_dump_files(raw_dir: Path, hashed: Mapping[str, tuple[Stamp, str]] | None = None) -> list[DumpFile]:
    """Every dump file of every source, sorted by relative path (deterministic load order).

    ``hashed`` maps a file's absolute path to its stamp and sha256 when it was last hashed
    (``transforms.raw.load.known_hashes``): a file with the same stamp is not read again. Hashing every
    byte was most of what a run with nothing new did. The others are hashed on several threads
    (hashlib and file reads release the GIL).
    """
    paths = [
        (source, path)
        for source in SOURCES if (raw_dir / source).is_dir()
        for path in sorted((raw_dir / source).rglob("*"))
        if path.is_file() and path.name.endswith(DUMP_SUFFIXES)
    ]
    hashed = hashed or {}

    def digest(path: Path) -> tuple[str, Stamp]:
        stamp = file_stamp(path)  # taken before reading: a file changed meanwhile is hashed again next time
        known = hashed.get(str(path.absolute()))
        return (known[1] if known is not None and known[0] == stamp else _sha256(path)), stamp

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        digests = list(pool.map(lambda found: digest(found[1]), paths))
    found = [
        DumpFile(source, path, path.relative_to(raw_dir).as_posix(), sha256, stamp)
        for (source, path), (sha256, stamp) in zip(paths, digests, strict=True)
    ]
    return sorted(found, key=lambda f: f.source_file)


def file_stamp(path: Path) -> Stamp:
    """What changes whenever a file's bytes do: a rewrite in place changes at least the ctime."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_file_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def split_lines(data: bytes, source_file: str) -> pl.DataFrame:
    """One row per non-blank line: ``source_file, line_number (from 1), envelope, utf8_valid``."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
        lines = pl.DataFrame({"envelope": [text]}).select(
            pl.col("envelope").str.split("\n").explode()
        )
        lines = lines.with_columns(pl.lit(True).alias("utf8_valid"))
    except UnicodeDecodeError:
        raw_lines = data.split(b"\n")
        lines = pl.DataFrame(
            {
                "envelope": [line.decode("utf-8", errors="replace") for line in raw_lines],
                "utf8_valid": [_is_utf8(line) for line in raw_lines],
            }
        )
    return (
        lines.with_row_index("line_number", offset=1)
        .with_columns(
            pl.lit(source_file).alias("source_file"),
            pl.col("line_number").cast(pl.Int64),
            pl.col("envelope").str.strip_suffix("\r"),
        )
        .filter(pl.col("envelope").str.strip_chars(BLANK) != "")
        .select(list(RAW_LINES_SCHEMA))
    )


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
