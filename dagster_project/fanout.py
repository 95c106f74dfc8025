"""``invoice_fanout``: every month's invoices, one step per billing month × customer shard.

The export step is the only one that opens the working database; the partition steps read only their
own Parquet files, so they can run in separate processes (here the multiprocess executor; elsewhere an
executor that starts containers or pods) without DuckDB's single-writer lock in the way. Everything goes
under ``<db stem>.fanout/<run id>/``: the snapshot in ``billed_usage/``, the gathered results in
``invoice_lines.parquet`` and ``invoices.parquet``. The job uses ops, not assets: it writes neither the
invoice tables nor the published warehouse, and leaves the asset graph as it is.

With no billed usage the export emits no partitions: the partition step is skipped, and the gather step
still runs (Dagster hands it an empty list) and writes no files.
"""

from pathlib import Path

import dagster as dg
import polars as pl

from dagster_project.resources import TallyWarehouse
from transforms import scale_out


class FanoutConfig(dg.Config):
    shards: int = 4


def run_folder(warehouse: TallyWarehouse, run_id: str) -> Path:
    db = Path(warehouse.db)
    return db.with_name(db.stem + ".fanout") / run_id


@dg.op(out={"folder": dg.Out(str), "partitions": dg.DynamicOut()})
def export_partitions(context: dg.OpExecutionContext, config: FanoutConfig, warehouse: TallyWarehouse):
    """Snapshot the billed usage to Parquet; the run's folder, and one output per (month, shard)
    partition the snapshot holds."""
    folder = run_folder(warehouse, context.run_id)
    with warehouse.connect() as con:
        partitions = scale_out.export_billed_usage(con, folder / "billed_usage", config.shards)
    context.log.info(f"{len(partitions)} partitions ({config.shards} shards) in {folder}")
    yield dg.Output(str(folder), output_name="folder")
    for period, shard in partitions:
        yield dg.DynamicOutput((str(folder / "billed_usage"), period, shard), output_name="partitions",
                               mapping_key=f"{period.year:04d}_{period.month:02d}_shard_{shard}")


@dg.op
def partition_invoices(partition: tuple) -> tuple:
    """(invoice lines, invoices) of one partition."""
    folder, period, shard = partition
    return scale_out.shard_invoices(Path(folder), period, shard)


@dg.op
def gather_invoices(folder: str, results: list) -> dg.Output[str]:
    """Concatenate the partitions' results, sorted as ``invoices_for`` sorts them, into two Parquet files
    beside the snapshot (none when there was no partition)."""
    folder = Path(folder)
    counts = {"invoice_lines": 0, "invoices": 0}
    if results:
        lines = pl.concat([lines for lines, _ in results]).sort("invoice_id", "metric_id", "unit_price")
        invoices = pl.concat([invoices for _, invoices in results]).sort("invoice_id")
        lines.write_parquet(folder / "invoice_lines.parquet")
        invoices.write_parquet(folder / "invoices.parquet")
        counts = {"invoice_lines": lines.height, "invoices": invoices.height}
    return dg.Output(str(folder), metadata={
        "partitions": len(results), **counts, "folder": dg.MetadataValue.path(str(folder)),
    })


@dg.job(executor_def=dg.multiprocess_executor,
        description="Invoices of every billed month, one step per month × customer shard, from a Parquet snapshot.")
def invoice_fanout():
    folder, partitions = export_partitions()
    gather_invoices(folder, partitions.map(partition_invoices).collect())


def bound_invoice_fanout(**warehouse: str) -> dg.JobDefinition:
    """``invoice_fanout`` with its resource bound to ``TallyWarehouse(**warehouse)``: the function
    ``dg.build_reconstructable_job`` calls in each step process to rebuild the same job outside a code
    location (scripts, tests)."""
    defs = dg.Definitions(jobs=[invoice_fanout], resources={"warehouse": TallyWarehouse(**warehouse)})
    return defs.resolve_job_def("invoice_fanout")
