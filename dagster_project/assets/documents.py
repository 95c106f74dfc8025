"""Invoice documents: each invoice of the published warehouse as an HTML page a customer could receive."""

from pathlib import Path

import dagster as dg
import polars as pl

from dagster_project.metadata import markdown_table
from dagster_project.resources import TallyWarehouse
from transforms.marts.document_files import MANIFEST, sync_documents

KEY = dg.AssetKey(["publish", "invoice_documents"])


@dg.asset(
    key=KEY,
    deps=[["publish", "warehouse"]],
    group_name="publish",
    description="One HTML file per invoice of the published warehouse: <documents dir>/<YYYY-MM>/<invoice "
                "id>.html, an index.html per month, and manifest.json naming the publication they show.",
)
def invoice_documents(context: dg.AssetExecutionContext, warehouse: TallyWarehouse) -> dg.MaterializeResult:
    """One row per invoice of the published warehouse, as a document. Brings the documents folder up to
    date with the published file, whatever an earlier run left: only the months whose invoices, lines or
    customers differ from what the folder holds are rendered again (each month's folder swapped whole),
    months without invoices lose their folder, and the hidden folders of killed runs are removed.
    Metadata: documents in the folder, months written, and the publication's fingerprint."""
    documents_dir = warehouse.documents_path()
    # Holding the working database makes this the one process writing the folder (see sync_documents).
    with warehouse.connect():
        sync = sync_documents(Path(warehouse.db), documents_dir)
    months = ", ".join(p.strftime("%Y-%m") for p in sync.written) or "none"
    context.log.info(f"invoice documents of {len(sync.months)} months in {documents_dir}: rendered {months}"
                     + (f"; removed {', '.join(sync.removed)}" if sync.removed else ""))
    return dg.MaterializeResult(
        asset_key=KEY,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(sync.documents),
            "documents_dir": dg.MetadataValue.path(str(documents_dir)),
            "manifest": dg.MetadataValue.path(str(documents_dir / MANIFEST)),
            "publication": dg.MetadataValue.text(sync.publication),
            "months_written": dg.MetadataValue.md(_months(sync.written)),
            "months_removed": dg.MetadataValue.int(len(sync.removed)),
            "leftovers_removed": dg.MetadataValue.int(len(sync.leftovers)),
        },
    )


def _months(written) -> str:
    """The months rendered again, as a markdown table."""
    if not written:
        return "_none: the documents already matched the published warehouse_"
    return markdown_table(pl.DataFrame({"month": [p.strftime("%Y-%m") for p in written]}))
