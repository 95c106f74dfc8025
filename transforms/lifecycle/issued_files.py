"""Issued document files: ``<documents-dir>/issued/<number>.pdf``, written once, never rewritten.

They are rendered from the published warehouse (its ``documents`` and ``document_lines``), after it is
published. A document's bytes must have the sha256 recorded when it was issued; a file already there
must still have it. ``documents.sha256`` beside them lists every issued file in ``sha256sum`` format, in
the order of issue, so ``sha256sum -c documents.sha256`` checks the folder; a new line is only ever
added (the list is rewritten atomically with the old lines first, unchanged).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from transforms.durable import sync_folder, write_synced
from transforms.lifecycle.issue import Renderer

ISSUED = "issued"
CHECKSUMS = "documents.sha256"


class IssuedFileConflict(Exception):
    """An issued document's file, or what would be written, is not the document that was issued."""


@dataclass
class IssuedSync:
    folder: Path
    written: list[str] = field(default_factory=list)
    documents: int = 0


def issued_folder(documents_dir: Path) -> Path:
    return Path(documents_dir) / ISSUED


def file_name(number: str) -> str:
    return f"{number}.pdf"


def write_issued(db: Path, documents_dir: Path, render: Renderer) -> IssuedSync:
    """Write the file of every issued document of the published ``db`` that has none yet."""
    folder = issued_folder(documents_dir)
    with duckdb.connect(str(db), read_only=True) as con:
        if not con.sql("SELECT 1 FROM duckdb_tables() WHERE table_name = 'documents'").fetchall():
            return IssuedSync(folder)
        documents = con.sql("SELECT * FROM documents WHERE status = 'issued' "
                            "ORDER BY issue_date, document_number").pl().to_dicts()
        lines = con.sql("SELECT * FROM document_lines WHERE document_number IN "
                        "(SELECT document_number FROM documents WHERE status = 'issued') ORDER BY ALL").pl()
    sync = IssuedSync(folder, documents=len(documents))
    if not documents:
        return sync
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(".*.tmp-*"):  # a killed run's unfinished file
        leftover.unlink(missing_ok=True)
    by_number = lines.partition_by("document_number", as_dict=True) if lines.height else {}
    for document in documents:
        path = folder / file_name(document["document_number"])
        if path.exists():
            if _sha256(path.read_bytes()) != document["sha256"]:
                raise IssuedFileConflict(f"{path} is not the document issued as {document['document_number']} "
                                         f"(sha256 {document['sha256']}): an issued document never changes; "
                                         "restore the file")
            continue
        frame = by_number.get((document["document_number"],))
        data = render(document, [] if frame is None else frame.to_dicts())
        if _sha256(data) != document["sha256"]:
            raise IssuedFileConflict(f"{document['document_number']} renders to other bytes than were issued: "
                                     "the renderer changed since; issued documents are never rendered anew")
        _write_once(path, data)
        sync.written.append(document["document_number"])
    _write_checksums(folder, [(d["sha256"], file_name(d["document_number"])) for d in documents])
    return sync


def _write_once(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write_synced(tmp, data)
    try:
        os.link(tmp, path)  # never replaces a file
    finally:
        tmp.unlink(missing_ok=True)


def _write_checksums(folder: Path, entries: list[tuple[str, str]]) -> None:
    path = folder / CHECKSUMS
    text = "".join(f"{sha256}  {name}\n" for sha256, name in entries)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if old == text:
        return
    if not text.startswith(old):
        raise IssuedFileConflict(f"{path} lists other documents than were issued; restore it")
    tmp = path.with_name(f".{CHECKSUMS}.tmp-{os.getpid()}")
    write_synced(tmp, text)
    os.replace(tmp, path)
    sync_folder(folder)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
