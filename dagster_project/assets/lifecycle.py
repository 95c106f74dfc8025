"""The invoice lifecycle (SPEC §7): close files, issued documents, drafts and pending adjustments."""

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import polars as pl

from dagster_project.metadata import markdown_table, table_metadata
from dagster_project.partitions import billing_months
from dagster_project.resources import TallyWarehouse
from transforms.lifecycle import documents
from transforms.lifecycle.control import CloseRefused, ControlError, check_new_close, read_closes, write_close
from transforms.lifecycle.issue import IssueRefused, issue_close, issued_months, loaded_files, mismatch
from transforms.lifecycle.issued_files import IssuedFileConflict, write_issued
from transforms.lifecycle.render import issued_pdf
from transforms.reference import ReferenceDataError, load_reference
from transforms.warehouse import reference_fingerprint

CLOSE_FILE = dg.AssetKey(["lifecycle", "close_file"])
ISSUED = dg.AssetKey(["lifecycle", "issued_documents"])
DOCUMENTS = dg.AssetKey(["lifecycle", "documents"])
ISSUED_FILES = dg.AssetKey(["publish", "issued_documents"])
REFUSED_TAG = "tally/close_refused"


class CloseConfig(dg.Config):
    issue_date: str = ""  # YYYY-MM-DD; blank: today in UTC (closing is the one step that reads the clock)


class IssueConfig(dg.Config):
    every_close: bool = True  # fail when a close file is left unissued (the runner issues them one by one)


@dg.asset(key=CLOSE_FILE, partitions_def=billing_months, group_name="lifecycle",
          deps=[["marts", "invoices"]],
          description="One close file per closed month: <control-dir>/close-YYYY-MM.json, the dump files and "
                      "reference data its documents are computed from.")
def close_file(context: dg.AssetExecutionContext, config: CloseConfig, warehouse: TallyWarehouse):
    """One row per closed month. Writes the close file of the run's month, recording every dump file loaded
    and a copy of the reference data in force; refuses a month closed before and an issue date before
    the latest one."""
    month = date.fromisoformat(context.partition_key)
    issue_date = date.fromisoformat(config.issue_date) if config.issue_date else datetime.now(UTC).date()
    control = Path(warehouse.control_dir)
    try:
        check_new_close(read_closes(control), month, issue_date)
        with warehouse.connect() as con:
            files = loaded_files(con)
        close = write_close(control, month, issue_date, files, Path(warehouse.reference_dir))
    except (CloseRefused, ControlError) as refused:
        raise dg.Failure(description=str(refused), metadata={REFUSED_TAG: True}) from None
    context.log.info(f"wrote {close.path}: {len(files)} dump files, issue date {issue_date}")
    return dg.MaterializeResult(metadata={"close_file": dg.MetadataValue.path(str(close.path)),
                                          "issue_date": dg.MetadataValue.text(issue_date.isoformat()),
                                          "dump_files": dg.MetadataValue.int(len(files)),
                                          "sha256": dg.MetadataValue.text(close.sha256)})


@dg.asset(key=ISSUED, deps=[CLOSE_FILE], group_name="lifecycle",
          description="One row per issued document: the documents of every close file, numbered and frozen.")
def issued_documents(context: dg.AssetExecutionContext, config: IssueConfig, warehouse: TallyWarehouse):
    """Issues, in order, every close file not issued yet whose inputs the working database holds exactly."""
    try:
        closes = read_closes(Path(warehouse.control_dir))
    except ControlError as error:
        raise dg.Failure(description=str(error)) from None
    issued: list[pl.DataFrame] = []
    with warehouse.connect() as con:
        done = issued_months(con)
        for close in [c for c in closes if c.month not in done]:
            try:
                fingerprint = reference_fingerprint(load_reference(close.reference_dir))
            except ReferenceDataError as error:
                raise dg.Failure(description=f"close {close.label}: its reference copy is invalid:\n{error}") from None
            problem = mismatch(con, close, fingerprint)
            if problem is not None:
                if config.every_close:
                    raise dg.Failure(description=f"close {close.label} cannot be issued from the working database "
                                                 f"as it is: {problem}. `tally run` issues every close file.")
                context.log.info(f"close {close.label} waits: {problem}")
                break
            try:
                frame = issue_close(con, close, issued_pdf)
            except IssueRefused as refused:
                raise dg.Failure(description=str(refused)) from None
            context.log.info(f"issued close {close.label}: {frame.height} documents")
            issued.append(frame)
        rows = con.sql("SELECT count(*) FROM lc_issued").fetchall()[0][0]
        preview = con.sql("SELECT document_number, kind, customer_id, period_start, issue_date, total "
                          "FROM lc_issued ORDER BY issue_date DESC, document_number DESC LIMIT 10").pl()
    return dg.MaterializeResult(metadata=table_metadata(preview, rows, issued_now=sum(f.height for f in issued)))


@dg.asset(key=DOCUMENTS, deps=[ISSUED, ["marts", "invoices"], ["marts", "invoice_lines"]], group_name="lifecycle",
          description="One row per document: issued, pending adjustment (draft) of a closed month, or draft "
                      "invoice of a month not closed.")
def lifecycle_documents(context: dg.AssetExecutionContext, warehouse: TallyWarehouse) -> dg.MaterializeResult:
    """Rebuilds ``documents``, ``document_lines`` and ``document_line_records``. Its metadata shows per
    month whether it is closed, its issued numbers, and its drafts and pending adjustments."""
    with warehouse.connect() as con:
        counts = documents.rebuild(con)
        months = documents.months(con)
        rows = con.sql("SELECT count(*) FROM documents").fetchall()[0][0]
    context.log.info(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no documents")
    return dg.MaterializeResult(metadata=table_metadata(
        months, rows, **{f"{status}_documents": n for status, n in counts.items()},
        months=dg.MetadataValue.md(markdown_table(months))))


@dg.asset(key=ISSUED_FILES, deps=[["publish", "warehouse"]], group_name="publish",
          description="One PDF per issued document of the published warehouse, written once: "
                      "<documents dir>/issued/<number>.pdf, listed with its sha256 in documents.sha256.")
def issued_document_files(context: dg.AssetExecutionContext, warehouse: TallyWarehouse) -> dg.MaterializeResult:
    """One file per issued document, rendered from the published file and never rewritten."""
    with warehouse.connect():
        try:
            sync = write_issued(Path(warehouse.db), warehouse.documents_path(), issued_pdf)
        except IssuedFileConflict as conflict:
            raise dg.Failure(description=str(conflict)) from None
    context.log.info(f"issued documents in {sync.folder}: {sync.documents}, written now {len(sync.written)}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": dg.MetadataValue.int(sync.documents),
        "folder": dg.MetadataValue.path(str(sync.folder)),
        "written": dg.MetadataValue.md(markdown_table(pl.DataFrame({"document_number": sync.written},
                                                                   schema={"document_number": pl.String}))),
    })


lifecycle_assets = [close_file, issued_documents, lifecycle_documents, issued_document_files]
