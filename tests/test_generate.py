"""The dump generator writes what it says: its record counts, valid reference data, every outcome."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from benchmarks import staging_rules
from benchmarks.generate import Plan, generate
from harness import run
from transforms.reference import load_reference
from transforms.staging import MODELS, common
from transforms.staging import batches as staging_batches
from transforms.warehouse import state_path

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


def test_a_source_staged_in_one_batch_gives_the_lines_staging_gave_in_many(tmp_path, monkeypatch):
    """Staging is a function of each line alone: `benchmarks.staging_rules`, which stages each source's
    lines as one batch in memory, gives exactly the rows the run staged in batches of 64 KB."""
    generate(tmp_path, Plan(records=4000, records_per_file=250, seed=5))
    monkeypatch.setattr(staging_batches, "MIN_BATCH_BYTES", 64 << 10)
    monkeypatch.setattr(staging_batches, "SHARE_OF_MEMORY", 8192)
    real, batches_of = common.stage_batch, Counter()

    def stage_batch(con, model, batch):
        batches_of[model.source] += 1
        return real(con, model, batch)

    monkeypatch.setattr(common, "stage_batch", stage_batch)
    result = run(tmp_path, raw_dir=tmp_path / "raw", reference_dir=tmp_path / "reference")
    monkeypatch.setattr(common, "stage_batch", real)
    assert min(batches_of[source] for source in MODELS) >= 3, batches_of
    batched = {source: result.table(f"stg_{source}").height for source in MODELS}
    result.con.close()
    con = staging_rules.connect(state_path(tmp_path / "warehouse.duckdb"), memory_limit="1GB")
    for source in MODELS:
        _, _, staged = staging_rules.stage_alone(con, source, keep=True)
        assert staged == batched[source] > 0
        for left, right in ((f"stg_{source}", f"state.stg_{source}"), (f"state.stg_{source}", f"stg_{source}")):
            assert con.sql(f"FROM {left} EXCEPT ALL FROM {right}").fetchall() == [], (source, left)
