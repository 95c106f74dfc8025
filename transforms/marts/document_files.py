"""The documents folder: ``<documents dir>/<YYYY-MM>/<invoice id>.html`` and ``index.html`` per month, and
``manifest.json``, which says what publication of the warehouse the documents reflect.

Documents are rendered from the published warehouse only, after it is published (``sync_documents``),
so they never show numbers the warehouse does not: a run that fails before or at publishing leaves them
as they were. Every run brings them up to date with the published file, whatever happened before: it
computes each invoice's fingerprint from the published tables (``documents.invoice_fingerprints``) and
from them each month's, compares them with the manifest, and writes again exactly the months that
differ, whose folder does not hold the files the manifest lists (names and sizes), or all of them when
the way pages are rendered changed. Within a month written again, only the documents of invoices whose
fingerprint changed are rendered; the others are carried over as they are (the index is always
rendered). A month that no longer has invoices loses its folder. The manifest is written last, so a
run killed anywhere in between leaves months the next run sees as out of date, and writes again.

A month's folder is replaced whole, never edited in place: the new files are written (and synced to
disk) in a hidden folder beside it (``.<YYYY-MM>.new-<pid>``), with the documents carried over hard-linked
into it (a file is never written in place, so the link and the old name share bytes that never change;
a copy where links are not possible), the old folder is renamed away and the new
one renamed into its place, then the old one is deleted. So a folder never mixes the documents of two
publications. Between the two renames the month's folder is briefly absent; a crash there leaves hidden
folders, which the next run removes (``remove_leftovers``), and a month the next run renders again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from transforms.durable import sync_folder, write_synced
from transforms.marts.documents import (
    DEFAULT_ISSUER,
    INDEX_FILE,
    document_file_name,
    documents_connection,
    invoice_fingerprints,
    month_documents,
    month_fingerprint,
    renderer_fingerprint,
)

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
_LEFTOVER = re.compile(r"\.(?:[0-9]{4}-[0-9]{2}\.(?:new|old)|" + re.escape(MANIFEST) + r"\.tmp)-[0-9]+")


@dataclass
class Sync:
    """What ``sync_documents`` found and did."""

    publication: str  # fingerprint of the published invoices that the documents now reflect
    months: list[date] = field(default_factory=list)  # months with documents
    written: list[date] = field(default_factory=list)  # months whose folder was written again
    removed: list[str] = field(default_factory=list)  # month folders removed: no invoices any more
    leftovers: list[Path] = field(default_factory=list)  # hidden folders and files of killed runs, removed
    documents: int = 0  # invoice documents in the folder


def sync_documents(db: Path, documents_dir: Path, *, issuer: str = DEFAULT_ISSUER) -> Sync:
    """Make ``documents_dir`` hold the documents of the warehouse published at ``db``, rendering only the
    months that are not up to date, and within them only the invoices that changed, and record the
    publication in the manifest.

    Only one process may write the folder at a time: tally calls this holding the working database
    (which DuckDB lets one process hold), so the hidden folders of any other process are leftovers."""
    leftovers = remove_leftovers(documents_dir)
    renderer = hashlib.sha256(f"{renderer_fingerprint()}\n{issuer}".encode()).hexdigest()
    manifest = read_manifest(documents_dir)
    known = manifest.get("months", {}) if manifest.get("renderer") == renderer else {}
    entries: dict[str, dict] = {}
    written: list[date] = []
    documents = 0
    with documents_connection(db) as con:
        months = invoice_fingerprints(con)
        for period, invoices in months.items():
            folder, fingerprint = month_folder(documents_dir, period), month_fingerprint(invoices)
            entry = known.get(folder.name)
            holds = isinstance(entry, dict) and _holds(folder, entry.get("files"))
            if not (holds and entry.get("fingerprint") == fingerprint):
                kept = _unchanged(entry, invoices) if holds else {}
                files = month_documents(con, period, issuer=issuer, skip=set(kept.values()))
                replace_month(documents_dir, period, files, keep=list(kept))
                sizes = {name: len(text.encode("utf-8")) for name, text in files.items()}
                sizes.update({name: entry["files"][name] for name in kept})
                entry = {"fingerprint": fingerprint, "files": dict(sorted(sizes.items())),
                         "invoices": {document_file_name(i): f for i, f in sorted(invoices.items())}}
                written.append(period)
            entries[folder.name] = entry
            documents += sum(1 for name in entry["files"] if name != INDEX_FILE)
    removed = _remove_other_months(documents_dir, set(entries))
    publication = hashlib.sha256("".join(f"{k} {e['fingerprint']}\n" for k, e in sorted(entries.items()))
                                 .encode()).hexdigest()
    new_manifest = {"format": MANIFEST_FORMAT, "publication": publication, "renderer": renderer,
                    "months": dict(sorted(entries.items()))}
    if new_manifest != manifest and (entries or documents_dir.is_dir()):
        write_manifest(documents_dir, new_manifest)
    return Sync(publication, sorted(months), written, removed, leftovers, documents)


def _unchanged(entry: dict, invoices: dict[str, str]) -> dict[str, str]:
    """The documents of a month's folder (as its manifest ``entry`` lists them, the folder holding them)
    whose invoice has the fingerprint it was rendered from: file name -> invoice id."""
    rendered = entry.get("invoices")
    if not isinstance(rendered, dict):
        return {}
    return {name: invoice_id for invoice_id, fingerprint in invoices.items()
            if (name := document_file_name(invoice_id)) in entry["files"] and rendered.get(name) == fingerprint}


def read_manifest(documents_dir: Path) -> dict:
    """The manifest as the last complete run wrote it; empty when there is none (or it is not one)."""
    try:
        manifest = json.loads((documents_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return {}
    if not isinstance(manifest.get("months"), dict):
        return {}
    return manifest


def write_manifest(documents_dir: Path, manifest: dict) -> None:
    """Replace the manifest atomically: written beside it, synced, renamed over it."""
    documents_dir.mkdir(parents=True, exist_ok=True)
    tmp = documents_dir / f".{MANIFEST}.tmp-{os.getpid()}"
    try:
        write_synced(tmp, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, documents_dir / MANIFEST)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_folder(documents_dir)


def month_folder(documents_dir: Path, period_start: date) -> Path:
    """``<documents dir>/<YYYY-MM>``, four digits of year also before 1000 (``strftime`` drops the zeros)."""
    return documents_dir / period_start.isoformat()[:7]


def replace_month(documents_dir: Path, period_start: date, files: dict[str, str],
                  keep: Sequence[str] = ()) -> Path | None:
    """Make the month's folder hold exactly ``files`` (name -> UTF-8 text) and the files named in ``keep``
    as the folder holds them now (linked into the new folder, or copied where links are not possible);
    with neither, remove it. Returns the folder, or None when there is none."""
    folder = month_folder(documents_dir, period_start)
    _remove_leftovers(folder)
    if not files and not keep:
        _remove(folder)
        return None
    documents_dir.mkdir(parents=True, exist_ok=True)
    new = folder.with_name(f".{folder.name}.new-{os.getpid()}")
    new.mkdir()
    try:
        for name in [*files, *keep]:
            if Path(name).name != name or name.startswith("."):
                raise ValueError(f"not a plain file name: {name!r}")
        for name, text in files.items():
            write_synced(new / name, text)
        for name in keep:
            _carry_over(folder / name, new / name)
        sync_folder(new)
    except BaseException:
        _remove(new)
        raise
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    if folder.exists():
        folder.rename(old)
    new.rename(folder)
    sync_folder(documents_dir)
    _remove(old)
    return folder


def _carry_over(source: Path, target: Path) -> None:
    """``target`` with the bytes of ``source``, a document written (and synced) by an earlier run: a hard
    link, as files are never written in place; a synced copy where the file system has no links."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        write_synced(target, source.read_bytes())


def remove_leftovers(documents_dir: Path) -> list[Path]:
    """Remove the hidden folders and files of runs that were killed while writing the documents:
    ``.<YYYY-MM>.new-<pid>``, ``.<YYYY-MM>.old-<pid>`` and ``.manifest.json.tmp-<pid>``. Returns them.
    Only for the one process that writes the folder (see ``sync_documents``)."""
    if not documents_dir.is_dir():
        return []
    leftovers = sorted(path for path in documents_dir.iterdir() if _LEFTOVER.fullmatch(path.name))
    for path in leftovers:
        _remove(path)
    return leftovers


def _holds(folder: Path, files) -> bool:
    """Whether ``folder`` is a folder of exactly the files named in ``files`` (name -> size in bytes)."""
    if not isinstance(files, dict) or folder.is_symlink() or not folder.is_dir():
        return False
    try:
        with os.scandir(folder) as entries:
            found = {entry.name: entry.stat(follow_symlinks=False).st_size
                     for entry in entries if entry.is_file(follow_symlinks=False)}
            count = len(os.listdir(folder))
    except OSError:
        return False
    return found == files and count == len(files)


def _remove_other_months(documents_dir: Path, months: set[str]) -> list[str]:
    """Remove the month folders (``YYYY-MM``) of months that have no invoices in the publication."""
    if not documents_dir.is_dir():
        return []
    removed = sorted(path.name for path in documents_dir.iterdir()
                     if _MONTH.fullmatch(path.name) and path.name not in months)
    for name in removed:
        _remove(documents_dir / name)
    return removed


def _remove_leftovers(folder: Path) -> None:
    for leftover in folder.parent.glob(f".{folder.name}.*-*"):
        _remove(leftover)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
