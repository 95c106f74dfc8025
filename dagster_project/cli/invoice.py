"""`tally invoice`: one invoice as the document a customer receives, in HTML or PDF."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dagster_project.cli.common import EXIT_USAGE, CommandError, add_db_option

HELP = "write one invoice as a customer document (HTML, or PDF through Chromium)"
DESCRIPTION = """\
Render one invoice of the published warehouse as the document a customer receives: customer, billing
period, each line with quantity, unit price and amount formatted for the currency, and the total. It is
the same page `tally run` writes to invoices/<YYYY-MM>/<invoice id>.html beside the warehouse. Without
--html or --pdf it writes <invoice id>.html in the current folder. --pdf prints the page with headless
Chromium (Debian's chromium package); no PDF library is needed."""
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = ("--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-pdf-header-footer")


def add_parser(commands) -> None:
    parser = commands.add_parser("invoice", help=HELP, description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("invoice_id", metavar="INVOICE_ID", help="an invoice id, INV-<yyyymm>-<customer_id>")
    add_db_option(parser, "published warehouse file to read the invoice and its customer from")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the HTML page to FILE ('-' for standard output)")
    parser.add_argument("--pdf", type=Path, metavar="FILE", help="print the page to a PDF file with headless Chromium")
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    targets = [] if args.html or args.pdf else [Path(f"{args.invoice_id}.html")]
    if args.html:
        targets.append(args.html)
    for target in [*targets, *([args.pdf] if args.pdf else [])]:
        _check_target(target)
    html = _render(args.db, args.invoice_id)
    for target in targets:
        if str(target) == "-":
            sys.stdout.write(html)
        else:
            try:
                target.write_text(html, encoding="utf-8")
            except OSError as error:
                raise CommandError(f"cannot write {target}: {error.strerror}",
                                   "Pass a file in a folder you can write to.", EXIT_USAGE) from None
            print(f"wrote {target}", file=sys.stderr)
    if args.pdf:
        print_pdf(html, args.pdf)
        print(f"wrote {args.pdf}", file=sys.stderr)
    return 0


def _check_target(target: Path) -> None:
    """A document goes into an existing folder (checked before anything is read, so no traceback)."""
    if str(target) == "-":
        return
    if target.is_dir():
        raise CommandError(f"{target} is a folder", "Pass the name of the file to write, e.g. "
                                                    f"{target / 'invoice.html'}.", EXIT_USAGE)
    if not target.parent.is_dir():
        raise CommandError(f"cannot write {target}: the folder {target.parent} does not exist",
                           f"Create it first (mkdir -p {target.parent}) or pass a file in an existing folder.",
                           EXIT_USAGE)


def _render(db: Path, invoice_id: str) -> str:
    from dagster_project.cli.common import open_warehouse
    from transforms.marts.documents import InvoiceNotFound, invoice_html

    con = open_warehouse(db)  # a missing or foreign warehouse gets its own message
    try:
        return invoice_html(con, invoice_id)
    except InvoiceNotFound:
        raise CommandError(f"no invoice {invoice_id} in {db}",
                           f"`tally explain {invoice_id}` suggests close ids; `tally status` lists the months "
                           "invoiced.", EXIT_USAGE) from None
    finally:
        con.close()


def print_pdf(html: str, out: Path) -> None:
    """Print ``html`` to ``out`` with headless Chromium: the page's own print stylesheet lays it out."""
    browser = next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)
    if browser is None:
        raise CommandError("a PDF needs Chromium, and none is installed",
                           "Install Debian's chromium package (apt-get install chromium), or write --html and "
                           "print the page from a browser.")
    sandbox = ("--no-sandbox",) if os.geteuid() == 0 else ()  # Chromium refuses to run as root otherwise
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder, "invoice.html")
        page.write_text(html, encoding="utf-8")
        done = subprocess.run([browser, *CHROMIUM_FLAGS, *sandbox, f"--user-data-dir={folder}/profile",
                               f"--print-to-pdf={out.resolve()}", page.as_uri()],
                              check=False, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not out.is_file():
        raise CommandError(f"Chromium could not print the PDF (exit {done.returncode})",
                           done.stderr.strip()[-2000:] or "Run the command again with --html to check the page.")
