"""Invoice documents: each invoice as an HTML page a customer could receive, per billing month."""

from datetime import date

import dagster as dg
import polars as pl

from dagster_project.metadata import markdown_table
from dagster_project.partitions import billing_months
from dagster_project.resources import TallyWarehouse
from transforms.marts.document_files import replace_month
from transforms.marts.documents import customers, month_documents
from transforms.marts.formatting import format_money

KEY = dg.AssetKey(["marts", "invoice_documents"])


# A multi-asset of one: `backfill_policy` on `@dg.asset` is still marked beta (a warning), on
# `@dg.multi_asset` it is not. Single-run like the invoice tables, so a backfill writes every month in
# the run that invoiced them.
@dg.multi_asset(
    specs=[dg.AssetSpec(
        KEY,
        deps=[["marts", "invoices"]],
        group_name="marts",
        partitions_def=billing_months,
        description="One HTML file per invoice: <documents dir>/<YYYY-MM>/<invoice id>.html, and an "
                    "index.html per month. A month's folder is replaced whole.",
    )],
    partitions_def=billing_months,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def invoice_documents(context: dg.AssetExecutionContext, warehouse: TallyWarehouse) -> dg.MaterializeResult:
    """Writes the documents of every month in the run's partition range from the invoice tables; a month
    without invoices loses its folder. Metadata per month: documents and files written, the folder, and a
    preview of its invoices."""
    documents_dir = warehouse.documents_path()
    documents = 0
    with warehouse.connect() as con:
        names = {customer_id: name for customer_id, (name, _) in customers(con).items()}
        for key in context.partition_keys:
            period = date.fromisoformat(key)
            files = month_documents(con, period)
            folder = replace_month(documents_dir, period, files)
            invoices = con.sql("SELECT invoice_id, customer_id, currency, total FROM invoices "
                               "WHERE period_start = ? ORDER BY invoice_id", params=[period]).fetchall()
            documents += len(invoices)
            context.add_asset_metadata(
                {
                    "dagster/row_count": dg.MetadataValue.int(len(invoices)),
                    "files_written": dg.MetadataValue.int(len(files)),
                    "folder": dg.MetadataValue.path(str(folder)) if folder else "none: no invoices",
                    "preview": dg.MetadataValue.md(_preview(invoices, names)),
                },
                asset_key=KEY,
                partition_key=key,
            )
    context.log.info(f"wrote {documents} invoice documents for {len(context.partition_keys)} months to "
                     f"{documents_dir}")
    return dg.MaterializeResult(asset_key=KEY, metadata={"documents_dir": dg.MetadataValue.path(str(documents_dir))})


def _preview(invoices: list[tuple], names: dict[str, str]) -> str:
    """The month's first 10 invoices as a markdown table, totals formatted as on the documents."""
    if not invoices:
        return "_no invoices_"
    return markdown_table(pl.DataFrame([
        {"invoice": _cell(invoice_id), "customer": _cell(names.get(customer_id, customer_id)),
         "total": format_money(total, currency)}
        for invoice_id, customer_id, currency, total in invoices[:10]
    ]))


def _cell(text: str) -> str:
    """Text safe in a markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|")
