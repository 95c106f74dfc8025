"""Refused input files (SPEC §1 "Refused files", §6 exit 3), through `tally run` and `tally status` as a user
runs them (in process, so a test can stand in for what root cannot make: an unreadable folder).

A dump file that was loaded and now holds other bytes, or that cannot be read whole, is refused: nothing of
it is loaded, what was loaded from it keeps its outcomes, everything else is billed, the file is named in the
summary and in `tally status`, and the run exits 3. A raw folder that holds none of the four source folders
is a mistake in the command: exit 2, nothing run.

Every invoice is c_usd's October 2026 (USD, UTC). Hand-computed: samplehc claim-check is `claims`, a sum at
0.50 a unit before 2026-10-15; sequence api-call is `api_calls`, a count at 0.02 an event.
"""

from __future__ import annotations

import gzip
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.cli import main
from dagster_project.resources import TallyWarehouse
from harness import envelope, write_dump, write_reference

OCTOBER = date(2026, 10, 1)


def claim(quantity: int, day: int) -> dict:
    return envelope({"eventSlug": "claim-check", "quantity": quantity}, f"2026-10-{day:02d}T12:00:00Z",
                    account="org_usd")


def api_call(day: int) -> dict:
    return envelope({"customerAlias": "alias-usd", "eventType": "api-call"}, f"2026-10-{day:02d}T12:00:00Z")


class Site:
    """A raw folder, a reference folder and a warehouse, run with `tally run` / `tally status` in process."""

    def __init__(self, root: Path) -> None:
        self.raw, self.db = root / "raw", root / "out" / "warehouse.duckdb"
        self.reference = write_reference(root / "reference")

    def run(self, capsys, raw: Path | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["run", "--raw-dir", str(raw or self.raw), "--reference-dir", str(self.reference),
                     "--db", str(self.db)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    def status(self, capsys) -> str:
        capsys.readouterr()
        assert main(["status", "--db", str(self.db)]) == 0
        return capsys.readouterr().out

    def invoice(self) -> tuple[Decimal, int]:
        """c_usd's October invoice in the published warehouse: (total, event_count)."""
        with duckdb.connect(str(self.db), read_only=True) as con:
            rows = con.sql("SELECT customer_id, period_start, total, event_count FROM invoices").fetchall()
        assert [(c, p) for c, p, _, _ in rows] == [("c_usd", OCTOBER)], rows
        return rows[0][2], rows[0][3]

    def outcomes(self) -> dict[tuple[str, int], str]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return {(f, n): o for f, n, o in con.sql(
                "SELECT source_file, line_number, outcome FROM usage_events").fetchall()}


@pytest.fixture
def site(tmp_path, monkeypatch) -> Site:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # an ephemeral Dagster instance per run
    return Site(tmp_path)


def refused_lines(out: str) -> list[str]:
    """The summary's list of refused files: the indented lines under its heading."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("refused input files"))
    return [line.strip() for line in lines[start + 1:] if line.startswith("  ")]


def test_a_loaded_file_appended_to_is_refused_until_its_bytes_are_restored(site, capsys):
    a = write_dump(site.raw, "samplehc/a.jsonl", [claim(2, 3), claim(4, 4)])
    original = a.read_bytes()
    assert site.run(capsys)[0] == 0
    assert site.invoice() == (Decimal("3.00"), 2)  # 6 claims × 0.50

    with a.open("ab") as handle:  # a capture appended to a file that was loaded
        handle.write(envelope_line(claim(10, 5)))
    write_dump(site.raw, "samplehc/b.jsonl", [claim(6, 6)])
    code, out, err = site.run(capsys)
    assert code == 3, out + err
    assert refused_lines(out) == ["samplehc/a.jsonl: its bytes changed since it was loaded (rewritten or "
                                  "appended to): restore them, and put new records in a new file"]
    assert "refused 1 input file (see the summary): samplehc/a.jsonl" in err, err
    assert "check files_readable on raw/samplehc: WARNING" in out + err  # the run did not fail
    assert site.invoice() == (Decimal("6.00"), 3)  # a's two records as before, and b's 6 claims × 0.50
    assert site.outcomes() == {("samplehc/a.jsonl", 1): "billed", ("samplehc/a.jsonl", 2): "billed",
                               ("samplehc/b.jsonl", 1): "billed"}
    status = site.status(capsys)
    assert "Refused by the last load: 1 file" in status, status
    assert "samplehc/a.jsonl: its bytes changed since it was loaded" in status, status

    code, out, err = site.run(capsys)  # still appended to: still refused, nothing else changes
    assert code == 3 and refused_lines(out)[0].startswith("samplehc/a.jsonl: "), out + err
    assert site.invoice() == (Decimal("6.00"), 3)

    a.write_bytes(original)
    code, out, err = site.run(capsys)
    assert code == 0, out + err
    assert "refused" not in out
    assert site.invoice() == (Decimal("6.00"), 3)
    assert "Refused" not in site.status(capsys)


def envelope_line(record: dict) -> bytes:
    import json

    return (json.dumps(record) + "\n").encode()


def test_a_loaded_file_rewritten_in_place_is_refused(site, capsys):
    a = write_dump(site.raw, "samplehc/a.jsonl", [claim(2, 3), claim(4, 4)])
    original = a.read_bytes()
    stat = a.stat()
    assert site.run(capsys)[0] == 0

    a.write_bytes(original.replace(b'"quantity": 4', b'"quantity": 8'))  # same size, same mtime
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    write_dump(site.raw, "sequence/c.jsonl", [api_call(7)])
    code, out, err = site.run(capsys)
    assert code == 3, out + err
    assert [line.split(":")[0] for line in refused_lines(out)] == ["samplehc/a.jsonl"]
    assert site.invoice() == (Decimal("3.02"), 3)  # 6 claims × 0.50 as loaded, 1 api call × 0.02
    assert "samplehc/a.jsonl: its bytes changed since it was loaded" in site.status(capsys)

    a.write_bytes(original)
    code, out, err = site.run(capsys)
    assert code == 0, out + err
    assert site.invoice() == (Decimal("3.02"), 3)


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_gzip_file_that_cannot_be_read_whole_is_refused_and_loaded_once_fixed(site, capsys, damage):
    write_dump(site.raw, "samplehc/a.jsonl", [claim(2, 3), claim(4, 4)])
    b = write_dump(site.raw, "samplehc/2026-10/b.jsonl.gz", [claim(10, 5), claim(20, 6)], gz=True)
    whole = b.read_bytes()
    if damage == "truncated":  # a copy cut short
        b.write_bytes(whole[: len(whole) - 12])
    else:  # the compressed data garbled, its header and length intact
        middle = len(whole) // 2
        b.write_bytes(whole[:middle] + bytes(x ^ 0xFF for x in whole[middle : middle + 8]) + whole[middle + 8 :])
    code, out, err = site.run(capsys)
    assert code == 3, out + err
    [refused] = refused_lines(out)
    assert refused.startswith("samplehc/2026-10/b.jsonl.gz: cannot be read whole: its gzip stream is truncated "
                              "or corrupt ("), refused
    assert site.invoice() == (Decimal("3.00"), 2)  # a's 6 claims × 0.50; nothing of b
    assert "samplehc/2026-10/b.jsonl.gz: cannot be read whole" in site.status(capsys)

    b.write_bytes(whole)
    code, out, err = site.run(capsys)
    assert code == 0, out + err
    assert site.invoice() == (Decimal("18.00"), 4)  # (6 + 30) claims × 0.50


def test_an_unreadable_folder_is_refused_and_its_files_counted_once_readable(site, capsys, monkeypatch):
    """Tests run as root, which reads a folder whatever its permission bits (chmod 000 hides nothing), so
    the test makes listing one folder fail as it does for an unreadable folder: os.scandir raises
    PermissionError for that path (as the kernel's EACCES does), and only for it."""
    write_dump(site.raw, "samplehc/a.jsonl", [claim(2, 3), claim(4, 4)])
    write_dump(site.raw, "sequence/2026-10/c.jsonl", [api_call(7), api_call(8)])
    locked = site.raw / "sequence" / "2026-10"
    real_scandir = os.scandir

    def scandir(path="."):
        if not isinstance(path, int) and Path(os.fsdecode(path)).absolute() == locked.absolute():
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = site.run(capsys)
    assert code == 3, out + err
    assert refused_lines(out) == ["sequence/2026-10/: cannot be read (Permission denied); nothing in it was loaded"]
    assert site.invoice() == (Decimal("3.00"), 2)
    assert "sequence/2026-10/: cannot be read (Permission denied)" in site.status(capsys)

    monkeypatch.setattr(os, "scandir", real_scandir)
    code, out, err = site.run(capsys)
    assert code == 0, out + err
    assert site.invoice() == (Decimal("3.04"), 4)  # 6 claims × 0.50, 2 api calls × 0.02


def test_a_dump_file_that_cannot_be_opened_is_refused(site, capsys):
    """A dump name whose target is gone (a dangling symbolic link) cannot be read, nor can a pipe be read
    as a file: each is named, not skipped."""
    write_dump(site.raw, "samplehc/a.jsonl", [claim(2, 3), claim(4, 4)])
    (site.raw / "samplehc" / "b.jsonl").symlink_to(site.raw / "elsewhere" / "b.jsonl")
    (site.raw / "tula").mkdir()
    os.mkfifo(site.raw / "tula" / "c.jsonl")
    code, out, err = site.run(capsys)
    assert code == 3, out + err
    assert refused_lines(out) == [
        "samplehc/b.jsonl: cannot be read (No such file or directory)",
        "tula/c.jsonl: it is not a regular file (a pipe, socket or device) and cannot be read as a dump"]
    assert site.invoice() == (Decimal("3.00"), 2)


def test_a_dump_file_with_an_io_error_while_loading_is_refused_and_loaded_once_readable(site, capsys, monkeypatch):
    """An I/O error while the load reads a file (after it was hashed) refuses that file alone; the other
    files of its batch load. The test makes that one read fail with EIO, as a failing disk would."""
    import errno

    write_dump(site.raw, "samplehc/a.jsonl", [claim(2, 3), claim(4, 4)])
    b = write_dump(site.raw, "samplehc/b.jsonl", [claim(10, 5)])
    real_open = Path.open

    def open_(path: Path, *args, **kwargs):
        if path.absolute() == b.absolute():
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    code, out, err = site.run(capsys)
    assert code == 3, out + err
    assert refused_lines(out) == [f"samplehc/b.jsonl: cannot be read ({os.strerror(errno.EIO)})"]
    assert site.invoice() == (Decimal("3.00"), 2)

    monkeypatch.setattr(Path, "open", real_open)
    code, out, err = site.run(capsys)
    assert code == 0, out + err
    assert site.invoice() == (Decimal("8.00"), 3)  # (6 + 10) claims × 0.50


def test_a_file_written_to_while_it_is_read_is_left_for_the_next_run(tmp_path):
    """Its bytes may no longer be those hashed (a dump still being copied): not loaded, and not remembered."""
    from transforms.raw.dump_files import Unreadable, discover_dump_files, read_lines

    a = write_dump(tmp_path / "raw", "samplehc/a.jsonl", [claim(2, 3)])
    [dump] = discover_dump_files(tmp_path / "raw").files
    with a.open("ab") as handle:
        handle.write(envelope_line(claim(4, 4)))
    with pytest.raises(Unreadable, match="changed while it was being read"):
        list(read_lines(dump))


def test_a_raw_dir_without_source_folders_is_a_mistake_in_the_command(site, capsys):
    write_dump(site.raw, "samplehc/a.jsonl", [claim(2, 3)])
    code, out, err = site.run(capsys, raw=site.raw.parent)  # one level too high
    assert code == 2, out + err
    assert err.splitlines()[0] == (f"tally run: raw directory {site.raw.parent} holds none of the source folders "
                                   "samplehc, tula, sequence, paygentic"), err
    assert f"{site.raw} holds samplehc" in err, err
    assert not site.db.parent.exists(), "a run started with a raw folder that holds no source folder"


def test_dagster_runs_show_refused_files_as_a_warning_check(tmp_path):
    """A load started by a schedule, a sensor or the UI: refused files are in the raw assets' metadata and
    fail the non-blocking `files_readable` check (WARN) of their source; the run itself succeeds."""
    from dagster_project import build_definitions

    raw = tmp_path / "raw"
    write_dump(raw, "samplehc/a.jsonl", [claim(2, 3)])
    b = write_dump(raw, "tula/b.jsonl.gz", ["{}"], gz=True)
    b.write_bytes(b.read_bytes()[:-4])
    warehouse = TallyWarehouse(raw_dir=str(raw), reference_dir=str(write_reference(tmp_path / "ref")),
                               db=str(tmp_path / "w.duckdb"))
    with dg.DagsterInstance.ephemeral() as instance:
        result = build_definitions(warehouse).resolve_job_def("load").execute_in_process(instance=instance)
    assert result.success
    checks = {e.asset_check_evaluation_data.asset_key.to_user_string(): e.asset_check_evaluation_data
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
              and e.asset_check_evaluation_data.check_name == "files_readable"}
    assert sorted(checks) == ["raw/paygentic", "raw/samplehc", "raw/sequence", "raw/tula"]
    assert [k for k, c in checks.items() if not c.passed] == ["raw/tula"]
    tula = checks["raw/tula"]
    assert tula.severity == dg.AssetCheckSeverity.WARN and not tula.blocking
    assert "tula/b.jsonl.gz" in tula.metadata["refused"].value
    materialized = {m.asset_key.to_user_string(): m.metadata for m in result.asset_materializations_for_node(
        "raw_tables")}
    assert materialized["raw/tula"]["refused_files"].value == 1
    assert materialized["raw/samplehc"]["refused_files"].value == 0


def test_a_dagster_run_over_a_raw_dir_without_source_folders_fails_clearly(tmp_path):
    raw = tmp_path / "dumps"
    write_dump(raw, "2026-10/samplehc/a.jsonl", [claim(2, 3)])
    warehouse = TallyWarehouse(raw_dir=str(raw), reference_dir=str(write_reference(tmp_path / "ref")),
                               db=str(tmp_path / "w.duckdb"))
    from dagster_project import build_definitions

    with dg.DagsterInstance.ephemeral() as instance:
        result = build_definitions(warehouse).resolve_job_def("load").execute_in_process(
            instance=instance, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith(f"raw directory {raw} holds none of the source folders"), description
