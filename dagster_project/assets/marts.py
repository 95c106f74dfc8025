"""Marts: the tables analysts query, and the published warehouse file."""


from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from dagster_project.assets.documents import invoice_documents
from dagster_project.metadata import (
    billed_per_month_chart,
    outcome_counts,
    outcomes_chart,
    table_metadata,
)
from dagster_project.partitions import billing_months
from dagster_project.resources import TallyWarehouse
from transforms import marts
from transforms.marts.formatting import format_money
from transforms.audit import PublicationRefused
from transforms.ownership import NotOurs, check_published, remember_published, remembered_in
from transforms.warehouse import publish, remove_leftovers

GRAINS = {
    "usage_events": "One row per usage line of every record, with its outcome and reason.",
    "quarantine": "One row per quarantined record, with reason, detail and the raw line.",
    "reconciliation": "One row per source: records by outcome; records equals the sum of the outcomes.",
    "customers": "One row per customer of customers.csv: id, name and time zone, for the invoice documents.",
}
UPSTREAM = {"customers": ["reference", "tables"]}  # the others are views over the priced usage


def table_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(key=["marts", name], deps=[UPSTREAM.get(name, ["intermediate", "priced_usage"])],
              group_name="marts", description=GRAINS[name])
    def _table(warehouse: TallyWarehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            rows = marts.define_view(con, name)
            first, params = marts.record_rows(con, name, limit=10) if name in marts.RECORD_VIEWS else (name, [])
            preview = con.sql(f"SELECT * FROM {first} LIMIT 10", params=params).pl()
            extra = _reconciliation_metadata(con) if name == "reconciliation" else {}
        return dg.MaterializeResult(metadata=table_metadata(preview, rows, **extra))

    return _table


def _reconciliation_metadata(con) -> dict:
    """A chart of outcomes per source, and one number per outcome (plotted across materializations)."""
    reconciliation = con.sql("SELECT * FROM reconciliation ORDER BY source").pl()
    return {"outcomes_per_source": dg.MetadataValue.md(outcomes_chart(reconciliation)),
            **outcome_counts(reconciliation)}


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
    """Rebuilds the invoices of the months in the run's partition range, each month all or nothing.

    Each month's materialization carries its own row count and billed total; the preview shows the run's
    rows, and the chart every month in the table."""
    periods = [date.fromisoformat(key) for key in context.partition_keys]
    with warehouse.connect() as con:
        # The invoice job publishes: copying the file overlaps the invoices. Started once the working
        # database is held, as every file beside the warehouse is written (`remove_leftovers`).
        warehouse.prepare_publication()
        lines, invoices = marts.rebuild_invoices(con, periods)
        monthly = con.sql("SELECT period_start, currency, sum(total), count(*) FROM invoices "
                          "GROUP BY ALL ORDER BY ALL").fetchall()
    context.log.info(f"wrote {invoices.height} invoices with {lines.height} lines for {len(periods)} months")
    for key, period in zip(context.partition_keys, periods):
        month_lines, month_invoices = (frame.filter(pl.col("period_start") == period) for frame in (lines, invoices))
        context.add_asset_metadata({"dagster/row_count": dg.MetadataValue.int(month_lines.height)},
                                   asset_key=["marts", "invoice_lines"], partition_key=key)
        context.add_asset_metadata({"dagster/row_count": dg.MetadataValue.int(month_invoices.height),
                                    "billed_total": dg.MetadataValue.md(_totals(month_invoices))},
                                   asset_key=["marts", "invoices"], partition_key=key)
    yield dg.MaterializeResult(asset_key=["marts", "invoice_lines"], metadata=table_metadata(lines))
    yield dg.MaterializeResult(
        asset_key=["marts", "invoices"],
        metadata=table_metadata(invoices, billed_per_month=dg.MetadataValue.md(billed_per_month_chart(monthly))),
    )


def _totals(invoices: pl.DataFrame) -> str:
    """Billed amount per currency."""
    if invoices.is_empty():
        return "_no invoices_"
    rows = invoices.group_by("currency").agg(pl.col("total").sum()).sort("currency")
    return "\n".join(f"- {format_money(total, currency)}" for currency, total in rows.iter_rows())


@dg.asset(
    key=["publish", "warehouse"],
    deps=[*(["marts", name] for name in (*GRAINS, "invoice_lines", "invoices")), ["lifecycle", "documents"]],
    group_name="publish",
    description="The warehouse file analysts open: the five mart tables, the customers the invoice "
                "documents name, and the documents of the invoice lifecycle, swapped in atomically.",
)
def published_warehouse(context: dg.AssetExecutionContext, warehouse: TallyWarehouse) -> dg.MaterializeResult:
    """One file: the mart tables, published by renaming a new file over the old one. Refuses a file that is
    not a tally warehouse, and removes first what killed runs left beside it (``<db>.tmp-<pid>``)."""
    db = Path(warehouse.db)
    with warehouse.connect() as con:
        _claim(context, con, db)
        for leftover in remove_leftovers(db):
            context.log.info(f"removed {leftover.name}, left by a run that did not finish")
        try:
            changed = publish(con, db, warehouse.prepared_copy(), require_checks=True)
        except PublicationRefused as refused:
            raise dg.Failure(description=str(refused)) from None
        remember_published(con, db)
        context.log.info("published the warehouse" if changed else "the published warehouse is up to date")
        invoices = con.sql("SELECT * FROM invoices ORDER BY invoice_id").pl()
    return dg.MaterializeResult(
        metadata=table_metadata(invoices, path=dg.MetadataValue.path(warehouse.db), republished=changed)
    )


def _claim(context: dg.AssetExecutionContext, con, db: Path) -> None:
    """SPEC §6: publish only over a file tally owns (``transforms.ownership``); tally's own damaged file
    is moved aside and every table published again."""
    try:
        moved = check_published(db, remembered_in(con))
    except NotOurs as refused:
        raise dg.Failure(description=f"{refused.problem}. {refused.next_step}") from None
    if moved is not None:
        context.log.warning(f"{db}, the warehouse tally published last, cannot be read; moved it to {moved}")


mart_assets = [*(table_asset(name) for name in GRAINS), invoice_tables, invoice_documents, published_warehouse]
