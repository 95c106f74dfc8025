"""The dump generator writes what it says: its record counts, valid reference data, every outcome."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.generate import Plan, generate
from harness import run
from transforms.reference import load_reference

TALLY = Path(sys.executable).with_name("tally")


def test_generated_dumps_bill_and_reconcile(tmp_path):
    counts = generate(tmp_path, Plan(records=8000, records_per_file=500, seed=3))
    assert counts == {"samplehc": 2000, "tula": 2000, "sequence": 2000, "paygentic": 2000}
    assert {p.name.split(".", 1)[1] for p in (tmp_path / "raw").rglob("part-*")} == {"jsonl", "ndjson.gz"}
    load_reference(tmp_path / "reference")  # raises when the reference data is invalid

    result = run(tmp_path, raw_dir=tmp_path / "raw", reference_dir=tmp_path / "reference")
    reconciliation = {r["source"]: r for r in result.table("reconciliation").iter_rows(named=True)}
    assert {s: r["records"] for s, r in reconciliation.items()} == counts
    outcomes = {o for r in reconciliation.values() for o, n in r.items() if o not in ("source", "records") and n}
    assert outcomes >= {"billed", "duplicate", "superseded", "voided", "rejected_by_vendor", "quarantined"}
    assert result.table("invoices").height > 0


def test_generation_is_deterministic(tmp_path):
    for name in ("a", "b"):
        subprocess.run([str(TALLY), "generate", "--records", "2000", "--out", str(tmp_path / name)], check=True,
                       capture_output=True)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files
    for relative in files:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes(), relative


def test_paygentic_dumps_hold_every_batch_shape(tmp_path):
    """Batches of 1 to 1000 events, with 100- and 1000-event batches and lines of several MB (SPEC §6)."""
    import json

    generate(tmp_path, Plan(records=4 * 3000, records_per_file=3000, seed=3))
    [part] = (tmp_path / "raw" / "paygentic").iterdir()
    lines = part.read_text(encoding="utf-8").splitlines()
    sizes = [len(json.loads(line)["body"]["events"]) for line in lines]
    assert sum(sizes) == 3000 and set(sizes) >= {1, 5, 100, 1000} and max(sizes) == 1000
    assert sum(1 for size in sizes if size <= 5) > 0.9 * len(sizes), "most batches are small"
    assert max(len(line.encode()) for line in lines) > 2_000_000, "a line of several MB"
