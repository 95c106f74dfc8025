"""SPEC §6 "Ownership of the output" and exit status 2: a mistake in the command changes no file and gets
a message, not a traceback; damaged files tally owns are rebuilt, never reported "up to date".

Runs go through the command line in process (``dagster_project.cli.main`` returns the exit status). The
dump is small enough to price by hand: samplehc claim checks, 0.50 USD each for org_usd (c_usd) before
2026-10-15 and 60 JPY for org_jpy (c_jpy).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from dagster_project.cli import main
from harness import envelope, write_dump, write_reference

REPO = Path(__file__).resolve().parents[1]
# c_usd: 3 + 4 claims at 0.50 = 3.50 USD; c_jpy: 2 claims at 60 = 120 JPY.
EXPECTED = {"INV-202610-c_usd": (Decimal("3.50"), 1, 2), "INV-202610-c_jpy": (Decimal("120"), 1, 1)}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for name in ("TALLY_DB", "TALLY_RAW_DIR", "TALLY_REFERENCE_DIR", "TALLY_DOCUMENTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    write_dump(tmp_path / "raw", "samplehc/a.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 3}, "2026-10-03T12:00:00Z", account="org_usd"),
        envelope({"eventSlug": "claim-check", "quantity": 4}, "2026-10-04T12:00:00Z", account="org_usd"),
        envelope({"eventSlug": "claim-check", "quantity": 2}, "2026-10-05T12:00:00Z", account="org_jpy"),
    ])
    for source in ("tula", "sequence", "paygentic"):
        (tmp_path / "raw" / source).mkdir(parents=True)
    write_reference(tmp_path / "reference")
    return tmp_path


def run(folder: Path, db: Path) -> int:
    return main(["run", "--raw-dir", str(folder / "raw"), "--reference-dir", str(folder / "reference"),
                 "--db", str(db)])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def invoices(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0]: r[1:] for r in con.sql(
            "SELECT invoice_id, total, line_count, event_count FROM invoices ORDER BY 1").fetchall()}


def published(folder: Path, capsys) -> Path:
    db = folder / "out" / "warehouse.duckdb"
    assert run(folder, db) == 0
    assert invoices(db) == EXPECTED
    capsys.readouterr()
    return db


def foreign_duckdb(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE customers AS SELECT 1 AS id, 'someone else''s data' AS name")
    return path


@pytest.mark.parametrize("kind", ["duckdb", "text", "folder"])
def test_run_refuses_a_db_that_is_not_a_tally_warehouse(folder, capsys, kind):
    db = folder / "theirs.duckdb"
    if kind == "duckdb":
        foreign_duckdb(db)
    elif kind == "text":
        db.write_text("quarterly numbers, do not delete\n", encoding="utf-8")
    else:
        db.mkdir()
        (db / "keep.txt").write_text("mine\n", encoding="utf-8")
    before = sha256(db) if db.is_file() else sorted(p.name for p in db.iterdir())
    assert run(folder, db) == 2
    err = capsys.readouterr().err
    assert f"tally run: {db} is not" in err, err
    assert "nothing was run" in err and "Traceback" not in err
    assert (sha256(db) if db.is_file() else sorted(p.name for p in db.iterdir())) == before
    assert not (folder / "theirs.state.duckdb").exists()  # nothing ran: no working database either
    assert not (folder / "invoices").exists()


def test_a_publication_outside_the_command_line_refuses_a_foreign_file_too(folder):
    from dagster_project.runner import RunFailed, run_pipeline

    db = foreign_duckdb(folder / "theirs.duckdb")
    before = sha256(db)
    with pytest.raises(RunFailed, match="is not a tally warehouse"):
        run_pipeline(folder / "raw", folder / "reference", db)
    assert sha256(db) == before


@pytest.mark.parametrize("content", [b"just some text\n", os.urandom(5000)], ids=["text", "garbage"])
def test_status_on_a_file_that_is_not_a_warehouse_says_so(folder, capsys, content):
    db = folder / "notes.duckdb"
    db.write_bytes(content)
    assert main(["status", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert f"tally status: {db} is not a tally warehouse" in err, err
    assert "Point --db (or TALLY_DB) at the warehouse" in err
    assert main(["status", "--db", str(foreign_duckdb(folder / "other.duckdb"))]) == 2
    assert "a DuckDB database without tally's tables" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_working_database_is_moved_aside_and_rebuilt(folder, capsys, damage):
    db = published(folder, capsys)
    state = folder / "out" / "warehouse.state.duckdb"
    if damage == "garbage":
        state.write_bytes(os.urandom(8192))
    else:  # DuckDB opens it and reads its catalog; a query fails when it reaches a missing block
        os.truncate(state, state.stat().st_size // 2)
    garbage = state.read_bytes()

    assert main(["status", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert f"The working database {state} cannot be read" in out, out
    assert "the next `tally run` moves it aside and rebuilds it" in out

    assert run(folder, db) == 0
    captured = capsys.readouterr()
    aside = folder / "out" / "warehouse.state.duckdb.corrupt-1"
    assert "the working database could not be read" in captured.err, captured.err
    assert f"moved it to {aside} and rebuilding it from the dumps" in captured.err
    assert "resumes where it stopped" not in captured.err + captured.out
    assert "invoices written: 2 (months: 2026-10); in the warehouse: 2" in captured.out
    assert aside.read_bytes() == garbage
    assert invoices(db) == EXPECTED
    assert main(["status", "--db", str(db)]) == 0


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_published_warehouse_of_ours_is_published_again(folder, capsys, damage):
    db = published(folder, capsys)
    inode = db.stat().st_ino
    if damage == "garbage":
        with db.open("r+b") as damaged:  # damage in place: the very file tally published
            damaged.write(os.urandom(4096))
    else:
        os.truncate(db, db.stat().st_size // 2)
    assert db.stat().st_ino == inode

    assert main(["status", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert f"The published warehouse {db}, which tally published last, cannot be read" in out, out
    assert "up to date" not in out

    assert run(folder, db) == 0
    captured = capsys.readouterr()
    assert f"moved it to {db}.corrupt-1. This run publishes every table again." in captured.err, captured.err
    assert invoices(db) == EXPECTED
    assert main(["status", "--db", str(db)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_damaged_file_tally_cannot_tie_to_its_publication_is_refused(folder, capsys):
    db = published(folder, capsys)
    replacement = db.with_name("elsewhere")
    replacement.write_bytes(os.urandom(4096))
    os.replace(replacement, db)  # another file now: tally did not publish it
    before = sha256(db)
    assert run(folder, db) == 2
    err = capsys.readouterr().err
    assert f"{db} is not a tally warehouse" in err, err
    assert f"move {db} away if it is a damaged warehouse" in err
    assert sha256(db) == before
    db.unlink()
    assert run(folder, db) == 0
    assert invoices(db) == EXPECTED


def test_generate_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    out = tmp_path / "data"
    write_reference(out / "reference")
    before = {p: sha256(p) for p in out.rglob("*") if p.is_file()}
    assert main(["generate", "--records", "8", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"tally generate: {out} is not empty" in err and "nothing was written" in err, err
    assert {p: sha256(p) for p in out.rglob("*") if p.is_file()} == before
    (tmp_path / "empty").mkdir()
    assert main(["generate", "--records", "8", "--out", str(tmp_path / "empty")]) == 0


def test_invoice_into_a_missing_folder_says_so(folder, capsys):
    db = published(folder, capsys)
    target = folder / "missing" / "dir" / "x.html"
    assert main(["invoice", "INV-202610-c_usd", "--db", str(db), "--html", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"tally invoice: cannot write {target}: the folder {target.parent} does not exist" in err, err
    assert not target.parent.exists()


@pytest.mark.parametrize("command", ["run", "status"])
def test_a_missing_dagster_home_is_a_mistake_in_the_command(folder, capsys, monkeypatch, command):
    home = folder / "no-such-home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    db = folder / "out" / "warehouse.duckdb"
    args = ["--raw-dir", str(folder / "raw"), "--reference-dir", str(folder / "reference")] if command == "run" else []
    assert main([command, *args, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert f"tally {command}: DAGSTER_HOME is set to {home}, which does not exist" in err, err
    assert not (folder / "out").exists()


def _bootstrap_copy(tmp_path: Path, python_version: str) -> tuple[Path, dict]:
    """The bootstrap script in a scratch project, with ``python3`` a stub that reports ``python_version``
    and no other Python on PATH."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "bootstrap", project / "scripts" / "bootstrap")
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy(REPO / name, project / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "cat", "cmp", "rm", "sed", "head", "mkdir", "tr"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    stub = bin_dir / "python3"
    stub.write_text(f"#!/bin/sh\n[ \"$1\" = -c ] && {{ echo {python_version}; exit 0; }}\n"
                    f"echo \"stub python $*\" >> {tmp_path}/calls\nexit 1\n", encoding="utf-8")
    stub.chmod(0o755)
    return project, {"PATH": str(bin_dir), "HOME": str(tmp_path)}


@pytest.mark.parametrize("version", ["3.12", "3.10"])
def test_bootstrap_refuses_the_wrong_python_before_creating_the_venv(tmp_path, version):
    project, env = _bootstrap_copy(tmp_path, version)
    done = subprocess.run(["/bin/sh", str(project / "scripts" / "bootstrap")], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert f"python3 is Python {version}; tally needs Python 3.11" in done.stderr, done.stderr
    assert "PYTHON=/path/to/python3.11 ./scripts/bootstrap" in done.stderr
    assert not (project / ".venv").exists()
    assert not (tmp_path / "calls").exists()  # it never ran `python3 -m venv`


def test_bootstrap_recreates_a_venv_made_with_the_wrong_python(tmp_path):
    project, env = _bootstrap_copy(tmp_path, "3.12")
    broken = project / ".venv" / "bin"
    broken.mkdir(parents=True)
    (broken / "python").write_text("#!/bin/sh\necho 3.12\n", encoding="utf-8")
    (broken / "python").chmod(0o755)
    done = subprocess.run(["/bin/sh", str(project / "scripts" / "bootstrap")], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert "is Python 3.12, not 3.11: removing it" in done.stderr, done.stderr
    assert not (project / ".venv").exists()  # removed; the stub python3 is refused before a new one


def test_a_warehouse_open_for_writing_elsewhere_is_still_replaced(folder, capsys):
    """A DuckDB session that holds the file for writing (the duckdb shell's default) cannot be checked,
    and is not a reason to refuse: the run renames its new file over it, as it always did."""
    import sys

    db = published(folder, capsys)
    write_dump(folder / "raw", "samplehc/b.jsonl", [
        envelope({"eventSlug": "claim-check", "quantity": 1}, "2026-10-06T12:00:00Z", account="org_usd")])
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print('open', flush=True); "
                               "sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        assert run(folder, db) == 0, capsys.readouterr().err
    finally:
        holder.communicate("done\n", timeout=30)
    assert invoices(db)["INV-202610-c_usd"] == (Decimal("4.00"), 1, 3)  # 8 claims at 0.50
