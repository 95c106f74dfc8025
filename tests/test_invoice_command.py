"""`tally invoice` and the documents `tally run` writes: the page a customer receives, from the sample."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TALLY = Path(sys.executable).with_name("tally")
CHROMIUM = Path("/usr/bin/chromium")
SAMPLE_INVOICES = {
    "2026-09": ["INV-202609-acme", "INV-202609-globex", "INV-202609-initech", "INV-202609-kyoto"],
    "2026-10": ["INV-202610-acme", "INV-202610-globex", "INV-202610-initech", "INV-202610-kyoto",
                "INV-202610-manama"],
}


def tally(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(TALLY), *args], check=False, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """One `tally run` over a copy of the shipped sample, documents in a folder of their own."""
    folder = tmp_path_factory.mktemp("sample")
    for part in ("raw", "reference"):
        shutil.copytree(REPO / "data" / part, folder / part)
    run = tally("run", "--raw-dir", "raw", "--reference-dir", "reference", "--db", "out/warehouse.duckdb",
                "--documents-dir", "letters", cwd=folder)
    assert run.returncode == 0, run.stdout + run.stderr
    return folder


def test_run_writes_one_document_per_invoice_into_documents_dir(sample):
    written = {month.name: sorted(p.stem for p in month.glob("INV-*.html"))
               for month in (sample / "letters").iterdir() if month.is_dir()}
    assert written == SAMPLE_INVOICES
    assert {p.name for p in (sample / "letters").iterdir() if not p.is_dir()} == {"manifest.json"}
    assert all((sample / "letters" / month / "index.html").is_file() for month in SAMPLE_INVOICES)
    assert not (sample / "out" / "invoices").exists()


def test_invoice_html_is_the_page_the_run_wrote(sample):
    page = tally("invoice", "INV-202610-manama", "--db", "out/warehouse.duckdb", "--html", "-", cwd=sample)
    assert page.returncode == 0, page.stderr
    assert page.stdout == (sample / "letters" / "2026-10" / "INV-202610-manama.html").read_text(encoding="utf-8")
    assert "7.354 BHD" in page.stdout


def test_invoice_without_options_writes_html_in_the_current_folder(sample, tmp_path):
    done = tally("invoice", "INV-202609-kyoto", "--db", str(sample / "out" / "warehouse.duckdb"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2,837 JPY" in (tmp_path / "INV-202609-kyoto.html").read_text(encoding="utf-8")


def test_invoice_pdf_prints_through_chromium(sample, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail("Chromium is not installed: run the README's test command, "
                    "./scripts/bootstrap --with-browser && .venv/bin/pytest")
    done = tally("invoice", "INV-202610-acme", "--db", str(sample / "out" / "warehouse.duckdb"),
                 "--pdf", str(tmp_path / "acme.pdf"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "acme.pdf").read_bytes().startswith(b"%PDF-")


def test_unknown_invoice_exits_2_and_says_what_to_do(sample):
    done = tally("invoice", "INV-202610-acm", "--db", "out/warehouse.duckdb", cwd=sample)
    assert done.returncode == 2
    assert "no invoice INV-202610-acm" in done.stderr and "tally explain INV-202610-acm" in done.stderr


def test_invoice_without_a_warehouse_says_to_run_first(tmp_path):
    done = tally("invoice", "INV-202610-acme", "--db", "nothing/warehouse.duckdb", cwd=tmp_path)
    assert done.returncode == 1
    assert "no warehouse at nothing/warehouse.duckdb" in done.stderr and "tally run" in done.stderr
