"""The Dagster UI as a person uses it: headless Chromium, driven by Playwright, bills one month.

The sample dumps and reference data are copied to a temp folder and run through the whole asset graph
in process (`dagster_project.runner.run_pipeline`), recorded in a temp Dagster instance, so the UI opens
on a history. Then `dagster dev -m dagster_project` serves that instance on 127.0.0.1 at a free port; it
also runs the daemon, which the instance's default run coordinator (queued runs) needs to start a run
launched from the UI. In the browser the test opens the asset catalog from the navigation, opens
`marts / invoices`, clicks Materialize, confirms that `marts / invoice_lines` comes along (they are one
multi-asset), picks the one month 2026-10 in the partition dialog (Custom lists the billing months,
the dynamic partitions; 2026-09 is removed), launches one run, follows the toast
to the run page and waits (up to 180 s) for the run to succeed. It then opens the asset's Checks tab and
finds every check of the asset passed in this run (its execution history links to the run). The
instance confirms it: the run came from the UI, is tagged with the one partition chosen, materialized
both assets for that month only, and every check the run planned evaluated and passed.

Screenshots (catalog, asset page, launch dialog, run page, asset after the run, checks) go to the folder
named by the environment variable `TALLY_UI_ARTIFACTS` when it is set, else to `ui-artifacts0` in
pytest's temp folder for the session (pytest keeps the last three sessions'). pytest's report ends with
that folder, and the test records it as its `artifacts` property (e.g. in a JUnit XML report). The log of
`dagster dev` is saved there too, and on a failure the page as it was (`failure-<name>.png` and `.txt`).

The browser is Debian's Chromium at /usr/bin/chromium. Nothing is installed by the test: the README's
test command (`./scripts/bootstrap --with-browser && .venv/bin/pytest`) sets it up, and `.ci/run` runs
that command; without the browser the test fails and says so. Run only these tests with
`.venv/bin/pytest -m ui`.

`test_invoice_document_renders_and_prints` is separate: it opens a rendered invoice, an HTML file under
`<documents_dir>/<YYYY-MM>/<invoice_id>.html`, in the same browser, checks that it shows the invoice's id
and total and loads nothing from outside the file, takes a screenshot and prints it to a one-page A4
PDF.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.runner import run_pipeline

pytestmark = pytest.mark.ui

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
CHROMIUM = Path("/usr/bin/chromium")
README_TEST_COMMAND = "./scripts/bootstrap --with-browser && .venv/bin/pytest"
# Without the background-networking flags Chromium reaches out on start; a closed network refuses that.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

MONTH = "2026-10-01"  # the billing month launched from the UI (partition key of `billing_months`)
# The sample's October (data/SAMPLE.md, "Expected invoices"); in USD, acme's 48.96 and initech's 16.27.
MONTH_INVOICES, MONTH_INVOICE_LINES, MONTH_USD_TOTAL = 5, 24, "65.23 USD"
INVOICES = dg.AssetKey(["marts", "invoices"])
INVOICE_LINES = dg.AssetKey(["marts", "invoice_lines"])
PARTITION_COUNT = re.compile(r"^\d+ partitions$")  # a partitioned asset's status in the catalog
ASSET_NAME = re.compile(r"^marts \/ invoices(\s|$)")  # its link in the catalog, not marts / invoice_lines
SERVER_START_TIMEOUT = 90  # seconds
RUN_TIMEOUT = 180  # seconds
UI_TIMEOUT = 30_000  # milliseconds, for each click and each expectation about the page


# ---------------------------------------------------------------------------------------------------
# Fixtures: the sample run, the Dagster UI serving it, the browser, the folder for screenshots


@dataclass
class SampleRun:
    folder: Path
    raw_dir: Path
    reference_dir: Path
    db: Path
    dagster_home: Path


@dataclass
class DagsterUI:
    url: str
    log: Path
    sample: SampleRun

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> SampleRun:
    """The shipped sample (2026-09 and 2026-10) billed in process into a temp Dagster instance."""
    folder = tmp_path_factory.mktemp("ui-sample")
    sample = SampleRun(folder, folder / "raw", folder / "reference", folder / "warehouse.duckdb", folder / "dagster_home")
    shutil.copytree(REPO / "data" / "raw", sample.raw_dir)
    shutil.copytree(REPO / "data" / "reference", sample.reference_dir)
    home = sample.dagster_home
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # The UI greets a new local instance with a newsletter dialog over whatever is on screen; this is the
    # file Dagster writes when someone dismisses it, so the page opens the way it does the second time.
    (home / ".nux").mkdir()
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        summary = run_pipeline(sample.raw_dir, sample.reference_dir, sample.db, instance=instance)
    assert [p.isoformat() for p in summary.periods] == ["2026-09-01", MONTH], summary
    return sample


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stops `dagster dev` and everything it started (webserver, daemon, code servers, run workers): they
    share its process group. It is asked first, and killed if it has not finished within seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def dagster_ui(sample_run) -> DagsterUI:
    """`dagster dev` over the sample run's instance and files, on loopback; stopped however the test ends."""
    port = _free_port()
    log = sample_run.folder / "dagster-dev.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(sample_run.dagster_home), TALLY_RAW_DIR=str(sample_run.raw_dir),
               TALLY_REFERENCE_DIR=str(sample_run.reference_dir), TALLY_DB=str(sample_run.db))
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(DAGSTER), "dev", "-m", "dagster_project", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    ui = DagsterUI(f"http://127.0.0.1:{port}", log, sample_run)
    try:
        _wait_for_server(proc, ui)
        yield ui
    finally:
        _stop(proc)


def _wait_for_server(proc: subprocess.Popen, ui: DagsterUI) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`dagster dev` exited with {proc.returncode} before serving; its log:\n{ui.log_tail()}")
        try:
            with urllib.request.urlopen(f"{ui.url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the Dagster webserver did not answer at {ui.url} within {SERVER_START_TIMEOUT} s; "
                f"the log of `dagster dev`:\n{ui.log_tail()}")


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium, or a failure that says how to get it; the test never installs a browser."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the UI tests drive Debian's Chromium. Run the README's test command, "
                    f"`{README_TEST_COMMAND}`, which installs it (packages chromium and chromium-driver).",
                    pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium):
    """Headless Chromium through Playwright. Playwright's synchronous API keeps an event loop running in
    this thread, so anything Dagster executes in process must come before (fixture order)."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError as error:
        pytest.fail(f"Playwright is not installed ({error}); run `{README_TEST_COMMAND}`.", pytrace=False)
    expect.set_options(timeout=UI_TIMEOUT)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def artifacts(request, tmp_path_factory) -> Path:
    """Where the screenshots go: $TALLY_UI_ARTIFACTS, else a folder in pytest's temp folder."""
    configured = os.environ.get("TALLY_UI_ARTIFACTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("ui-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    request.config.pluginmanager.register(_ArtifactsSummary(folder), "tally-ui-artifacts")
    return folder


class _ArtifactsSummary:
    """Names the screenshot folder at the end of pytest's report."""

    def __init__(self, folder: Path):
        self.folder = folder

    def pytest_terminal_summary(self, terminalreporter):
        if any(self.folder.iterdir()):
            terminalreporter.write_sep("-", "Dagster UI screenshots")
            terminalreporter.write_line(str(self.folder))


@pytest.fixture
def page(browser, artifacts, request):
    """A fresh page (own cookies and storage); on a failure, what it showed is saved with the screenshots."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    request.node.user_properties.append(("artifacts", str(artifacts)))
    try:
        yield page
    finally:
        context.close()


@contextmanager
def saved_on_failure(page, artifacts: Path, name: str, ui: DagsterUI | None = None):
    """On an error inside, saves the page (`failure-<name>.png` and `.txt`) and the server's log beside the
    screenshots."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        yield
    except BaseException:
        try:
            page.screenshot(path=artifacts / f"failure-{name}.png")
            (artifacts / f"failure-{name}.txt").write_text(f"{page.url}\n\n{page.inner_text('body')}")
        except PlaywrightError as error:  # the page may be gone; the test's own error says more
            (artifacts / f"failure-{name}.txt").write_text(f"no screenshot of the page: {error}")
        raise
    finally:
        if ui is not None and ui.log.exists():
            shutil.copy(ui.log, artifacts / "dagster-dev.log")


# ---------------------------------------------------------------------------------------------------
# Materializing one month of invoices from the UI


def test_materialize_one_month_of_invoices_from_the_ui(chromium, dagster_ui, page, artifacts):
    """`chromium` comes first so that, without the browser, the test fails before starting anything."""
    from playwright.sync_api import expect

    with saved_on_failure(page, artifacts, "materialize", dagster_ui):
        # The catalog, reached from the navigation; the invoice asset, found in it by its name.
        page.goto(dagster_ui.url)
        page.get_by_role("link", name="Catalog").click()
        invoices_link = page.get_by_role("link", name=ASSET_NAME)
        expect(invoices_link).to_be_visible()
        _wait_for_statuses(page)  # the catalog lists the assets first, then fills in their status
        expect(page.get_by_text(PARTITION_COUNT)).to_have_count(3)  # invoices, invoice_lines, close_file
        page.screenshot(path=artifacts / "01-catalog.png")
        invoices_link.click()
        expect(page).to_have_url(re.compile(r"/assets/marts/invoices$"))
        expect(page.get_by_text("One row per customer × billing month")).to_be_visible()
        expect(page.get_by_text("Latest materialization", exact=True)).to_be_visible()
        page.screenshot(path=artifacts / "02-asset.png")

        # Materialize: the invoice lines come along (one multi-asset), then the partition dialog.
        page.get_by_role("button", name="Materialize…").click()
        additional = page.get_by_role("dialog").filter(has_text="Additional assets will be materialized")
        expect(additional).to_contain_text("marts / invoice_lines")
        additional.get_by_role("button", name="Confirm").click()
        dialog = page.get_by_role("dialog").filter(has_text="Partition selection")
        # Billing months are dynamic partitions: "Custom" lists every month as a removable tag, in partition
        # order (the sample's 2026-09, then 2026-10); removing 2026-09 leaves the one month.
        dialog.get_by_role("button", name="Custom").click()
        expect(dialog).to_contain_text("2 partitions")
        expect(dialog.get_by_text(MONTH, exact=True).first).to_be_visible()
        dialog.get_by_role("img", name="close").first.click()
        expect(dialog).to_contain_text("1 partition")
        expect(dialog.get_by_text("2026-09-01")).to_have_count(0)
        launch = dialog.get_by_role("button", name="Launch 1 run")
        expect(launch).to_be_enabled()
        page.screenshot(path=artifacts / "03-launch-dialog.png")
        launch.click()

        # The toast links to the run; the run page follows it live until the run is done.
        expect(page.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}$"))).to_be_visible()
        page.get_by_role("link", name="View", exact=True).click()
        expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
        run_id = page.url.rsplit("/", 1)[1]
        with dg.DagsterInstance.from_config(str(dagster_ui.sample.dagster_home)) as instance:
            run = _wait_for_run(instance, run_id, dagster_ui)
            assert run.status == dg.DagsterRunStatus.SUCCESS, (
                f"run {run_id} ended {run.status.value}: {_run_failure(instance, run_id)}\n"
                f"log of `dagster dev`:\n{dagster_ui.log_tail()}"
            )
            _assert_one_month_materialized_and_checked(instance, run)
            invoice_checks = sorted(key.name for key in run.asset_check_selection if key.asset_key == INVOICES)
        expect(page.get_by_text("Success", exact=True).first).to_be_visible()
        expect(page.get_by_text(f"partition: {MONTH}", exact=True)).to_be_visible()
        page.screenshot(path=artifacts / "04-run.png")

        # Back to the asset: its latest materialization is this run's, of this month; its checks passed in it.
        page.get_by_role("link", name="Catalog").click()
        page.get_by_role("link", name=ASSET_NAME).click()
        # The page first shows what it had cached, then this run's materialization ("… ago", linking to the
        # run; the toast's "View" links there too).
        latest = _links_to_run(page, run_id).and_(page.get_by_role("link", name=re.compile(r"\bago$")))
        expect(latest).to_be_visible()
        expect(page.get_by_role("link", name=MONTH, exact=True)).to_be_visible()
        expect(page.get_by_role("listitem").get_by_text(MONTH_USD_TOTAL, exact=True)).to_be_visible()  # billed_total
        expect(page.get_by_role("cell", name=MONTH_USD_TOTAL, exact=True)).to_be_visible()  # billed_per_month chart
        page.screenshot(path=artifacts / "05-asset-after-run.png")
        page.get_by_role("tab", name="Checks").click()
        expect(page.get_by_text(f"Checks ({len(invoice_checks)})", exact=True)).to_be_visible()
        expect(page.get_by_text("Succeeded", exact=True)).to_have_count(len(invoice_checks))
        for name in invoice_checks:
            page.get_by_text(name, exact=True).first.click()
            expect(page).to_have_url(re.compile(rf"[?&]checkDetail={name}(&|$)"))
            page.get_by_role("tab", name="Execution history").click()
            # The row of this run's evaluation: it links to the run's step that evaluated the invoices' checks.
            evaluation = page.get_by_role("row").filter(has=_links_to_run(page, run_id, step="invoice_checks"))
            expect(evaluation).to_have_count(1)
            expect(evaluation).to_contain_text("Passed")
            if name == "total_is_sum_of_lines":
                page.screenshot(path=artifacts / "06-checks.png")


def _links_to_run(page, run_id: str, step: str | None = None):
    """Links to the run's page, or to one step in it: the UI links a materialization or a check's
    evaluation to the run that made it."""
    return page.locator(f'a[href^="/runs/{run_id}"]' + (f'[href*="selection={step}&"]' if step else ""))


def _wait_for_statuses(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_text("Materialized", exact=True).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Loading"))).to_have_count(0)


def _wait_for_run(instance: dg.DagsterInstance, run_id: str, ui: DagsterUI) -> dg.DagsterRun:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run
        time.sleep(1)
    status = run.status.value if run is not None else "unknown to the instance"
    pytest.fail(f"run {run_id} did not finish within {RUN_TIMEOUT} s (status: {status}); "
                f"the daemon starts queued runs, the log of `dagster dev`:\n{ui.log_tail()}")


def _run_failure(instance: dg.DagsterInstance, run_id: str) -> str:
    """Each failed step with its error's cause (the step's own error only says that the op failed)."""
    reasons = []
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = event.dagster_event.step_failure_data.error
        cause = error.cause if error and error.cause else error
        reasons.append(f"{event.step_key}: {cause.message.strip() if cause else 'no error recorded'}")
    return "; ".join(reasons) or "no step failed"


def _assert_one_month_materialized_and_checked(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """The instance's record of the run: from the UI, one partition, both invoice tables, every check passed."""
    assert run.tags.get("dagster/from_ui") == "true", run.tags
    assert run.tags.get("dagster/partition") == MONTH, run.tags
    assert not {"dagster/asset_partition_range_start", "dagster/asset_partition_range_end"} & set(run.tags)
    # Every step opens the one DuckDB working file for writing, so no step may run in a process of its own
    # beside another (DuckDB's lock fails such a run, or not, depending on timing).
    workers = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTING)
    assert workers == [], f"steps ran in processes of their own: {[e.step_key for e in workers]}"
    materializations = [e.dagster_event for e in
                        instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)]
    assert {(m.asset_key, m.partition) for m in materializations} == {(INVOICES, MONTH), (INVOICE_LINES, MONTH)}
    rows = {m.asset_key: m.step_materialization_data.materialization.metadata["dagster/row_count"].value
            for m in materializations}
    assert rows == {INVOICES: MONTH_INVOICES, INVOICE_LINES: MONTH_INVOICE_LINES}, rows
    evaluations = {
        data.asset_check_key: data.passed
        for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        for data in [e.dagster_event.asset_check_evaluation_data]
    }
    assert {key.asset_key for key in run.asset_check_selection} == {INVOICES, INVOICE_LINES}
    assert dg.AssetCheckKey(INVOICES, "total_is_sum_of_lines") in run.asset_check_selection
    assert evaluations == {key: True for key in run.asset_check_selection}, evaluations


# ---------------------------------------------------------------------------------------------------
# A rendered invoice document, in the same browser: on screen and printed to PDF

# acme's October invoice: USD 48.96 over four lines (data/SAMPLE.md, "Expected invoices")
DOCUMENT_MONTH, DOCUMENT_INVOICE, DOCUMENT_TOTAL = "2026-10", "INV-202610-acme", "48.96 USD"


@pytest.fixture
def invoice_document(sample_run) -> Path:
    """acme's October invoice as the sample run rendered it: `<documents_dir>/2026-10/INV-202610-acme.html`,
    wherever in the run's folder the documents directory is."""
    found = sorted(sample_run.folder.rglob(f"{DOCUMENT_MONTH}/{DOCUMENT_INVOICE}.html"))
    assert found, f"the sample run rendered no {DOCUMENT_MONTH}/{DOCUMENT_INVOICE}.html under {sample_run.folder}"
    return found[0]


def test_invoice_document_renders_and_prints(sample_run, invoice_document, browser, artifacts):
    """An invoice document opens in Chromium showing its id and total, needs nothing from outside its file
    (no network, no missing image), and prints to a one-page A4 PDF."""
    check_invoice_document(browser, invoice_document, artifacts, DOCUMENT_INVOICE, DOCUMENT_TOTAL)


def check_invoice_document(browser, html: Path, artifacts: Path, invoice_id: str, total: str) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1240, "height": 1754})  # A4 at 150 dpi
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    try:
        with saved_on_failure(page, artifacts, "document"):
            page.goto(html.as_uri())
            expect(page.get_by_text(invoice_id).first).to_be_visible()
            expect(page.locator("#total")).to_contain_text(total)
            outside = [url for url in requested if not url.startswith(("file:", "data:"))]
            assert outside == [], f"{html.name} loads from outside its file: {outside}"
            broken = page.evaluate("[...document.images].filter(i => !i.complete || !i.naturalWidth).map(i => i.src)")
            assert broken == [], f"{html.name} shows broken images: {broken}"
            page.screenshot(path=artifacts / f"{invoice_id}.png", full_page=True)
            pdf = page.pdf(path=artifacts / f"{invoice_id}.pdf", format="A4", print_background=True)
            assert pdf.startswith(b"%PDF-"), pdf[:16]
            pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
            assert pages == 1, f"{html.name} prints on {pages} A4 pages"
    finally:
        context.close()
