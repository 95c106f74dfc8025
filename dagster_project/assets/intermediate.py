"""Intermediate: reference data, then steps 5–11 of SPEC §2 over the lines that new loads change."""


from pathlib import Path

import dagster as dg

from dagster_project.metadata import BILLING_PERIODS_KEY, table_metadata
from dagster_project.partitions import add_billing_months
from dagster_project.resources import TallyWarehouse
from transforms import holds, intermediate, marts
from transforms.raw.dump_files import SOURCES
from transforms.reference import ReferenceDataError, load_reference
from transforms.warehouse import write_reference


@dg.asset(
    key=["reference", "tables"],
    group_name="reference",
    description="One row per row of the five reference CSVs, validated; a bad file stops the run.",
)
def reference_tables(context: dg.AssetExecutionContext, warehouse: TallyWarehouse) -> dg.MaterializeResult:
    try:
        reference = load_reference(Path(warehouse.reference_dir))
    except ReferenceDataError as error:
        raise dg.Failure(description=f"invalid reference data in {warehouse.reference_dir}:\n{error}") from None
    with warehouse.connect() as con:
        write_reference(con, reference)
    return dg.MaterializeResult(
        metadata=table_metadata(
            reference.customers,
            customers=reference.customers.height,
            meters=reference.meters.height,
            prices=reference.prices.height,
        )
    )


def _layer_asset(name: str, deps: list, description: str, build, extra_metadata=None):
    @dg.asset(key=["intermediate", name], deps=deps, group_name="intermediate", description=description)
    def _asset(context: dg.AssetExecutionContext, warehouse: TallyWarehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            change = build(con)
            rebuild = "nothing new" if change is None else "full" if change.full else "changed lines"
            context.log.info(f"{name}: {rebuild}")
            table = f"int_{name}"
            rows = con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            outcomes = con.sql(
                f"SELECT coalesce(outcome, 'standing') AS outcome, count(*) AS lines FROM {table} GROUP BY 1 ORDER BY 1"
            ).pl()
            extra = extra_metadata(context, con) if extra_metadata else {}
            extra["rebuild"] = rebuild
        return dg.MaterializeResult(metadata=table_metadata(outcomes, rows, **extra))

    return _asset


def _billing_months(context: dg.AssetExecutionContext, con) -> dict:
    """Makes every month with invoices or waiting for them a partition of the invoice stage (those the
    instance lacks: a new instance, back-dated usage); the metadata lists the months waiting for invoices."""
    added = add_billing_months(context.instance, marts.billing_month_keys(con))
    if added:
        context.log.info(f"new billing months: {', '.join(key[:7] for key in added)}")
    stale = [p.isoformat() for p in marts.stale_periods(con)]
    return {BILLING_PERIODS_KEY: dg.MetadataValue.json(stale)}


resolved_lines = _layer_asset(
    "resolved_lines",
    [["staging", s] for s in SOURCES] + [["reference", "tables"]],
    "One row per staged usage line, with re-delivery, idempotency keys, versions and status decided.",
    intermediate.resolve_events,
)
def _price_usage(con):
    """Steps 9–11, then the invoices that would not fit their columns held: both decide outcomes, so both
    come before the priced usage's checks."""
    change = intermediate.price_usage(con)
    holds.hold_unfit_invoices(con)
    return change


priced_usage = _layer_asset(
    "priced_usage",
    [["intermediate", "resolved_lines"]],
    "One row per usage line of every record, with customer, meter, metered quantity, local billing period, "
    "unit price, price source and final outcome.",
    _price_usage,
    _billing_months,
)


intermediate_assets = [reference_tables, resolved_lines, priced_usage]
