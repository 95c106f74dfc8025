"""Marts: the tables analysts query, and the published warehouse file."""


from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from dagster_project.metadata import table_metadata
from dagster_project.partitions import billing_months
from dagster_project.resources import TallyWarehouse
from transforms import marts
from transforms.warehouse import publish

GRAINS = {
    "usage_events": "One row per usage line of every record, with its outcome and reason.",
    "quarantine": "One row per quarantined record, with reason, detail and the raw line.",
    "reconciliation": "One row per source: records by outcome; records equals the sum of the outcomes.",
}


def table_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(key=["marts", name], deps=[["intermediate", "priced_usage"]], group_name="marts",
              description=GRAINS[name])
    def _table(warehouse: TallyWarehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            rows = marts.define_view(con, name)
            preview = con.sql(f"SELECT * FROM {name} LIMIT 10").pl()
        return dg.MaterializeResult(metadata=table_metadata(preview, rows))

    return _table


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["marts", "invoice_lines"], deps=[["intermediate", "priced_usage"]], group_name="marts",
                     description="One row per customer × billing month × metric × unit price.",
                     partitions_def=billing_months),
        dg.AssetSpec(["marts", "invoices"], deps=[["intermediate", "priced_usage"]], group_name="marts",
                     description="One row per customer × billing month with at least one billed record.",
                     partitions_def=billing_months),
    ],
    partitions_def=billing_months,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def invoice_tables(context: dg.AssetExecutionContext, warehouse: TallyWarehouse):
    """Rebuilds the invoices of the months in the run's partition range, each month all or nothing."""
    periods = [date.fromisoformat(key) for key in context.partition_keys]
    with warehouse.connect() as con:
        lines, invoices = marts.rebuild_invoices(con, periods)
    context.log.info(f"wrote {invoices.height} invoices with {lines.height} lines for {len(periods)} months")
    yield dg.MaterializeResult(asset_key=["marts", "invoice_lines"], metadata=table_metadata(lines))
    yield dg.MaterializeResult(
        asset_key=["marts", "invoices"],
        metadata=table_metadata(invoices, billed_total=dg.MetadataValue.md(_totals(invoices))),
    )


def _totals(invoices: pl.DataFrame) -> str:
    if invoices.is_empty():
        return "_no invoices_"
    rows = invoices.group_by("currency").agg(pl.col("total").sum()).sort("currency")
    return "\n".join(f"- {currency}: {total}" for currency, total in rows.iter_rows())


@dg.asset(
    key=["publish", "warehouse"],
    deps=[["marts", name] for name in (*GRAINS, "invoice_lines", "invoices")],
    group_name="publish",
    description="The warehouse file analysts open: the five mart tables, swapped in atomically.",
)
def published_warehouse(context: dg.AssetExecutionContext, warehouse: TallyWarehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        changed = publish(con, Path(warehouse.db))
        context.log.info("published the warehouse" if changed else "the published warehouse is up to date")
        invoices = con.sql("SELECT * FROM invoices ORDER BY invoice_id").pl()
    return dg.MaterializeResult(
        metadata=table_metadata(invoices, path=dg.MetadataValue.path(warehouse.db), republished=changed)
    )


mart_assets = [*(table_asset(name) for name in GRAINS), invoice_tables, published_warehouse]
