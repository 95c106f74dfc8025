"""Staging: one asset per vendor, all staged in one step, a thin wrapper over transforms.staging (two
sources at a time, see transforms.staging.streams)."""


import dagster as dg

from dagster_project.metadata import STAGED_AFTER_KEY, table_metadata
from dagster_project.resources import TallyWarehouse
from transforms.staging import MODELS, stage_sources


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["staging", model.source],
            deps=[["raw", model.source]],
            group_name="staging",
            description=(
                f"One row per usage line of every {model.source} record, parsed and typed, "
                "with the SPEC step 1–4 reason when it cannot be billed."
            ),
        )
        for model in MODELS.values()
    ],
)
def staging_tables(context: dg.AssetExecutionContext, warehouse: TallyWarehouse):
    """Stages every source's raw lines not staged yet; a rerun over nothing new changes nothing."""
    with warehouse.connect() as con:
        staged = stage_sources(con, list(MODELS.values()))
        for source, model in MODELS.items():
            added = staged[source].lines
            context.log.info(f"staged {added} new {source} usage lines")
            rows = con.sql(f"SELECT count(*) FROM {model.table}").fetchall()[0][0]
            preview = con.sql(f"SELECT * FROM {model.table} ORDER BY source_file, line_number LIMIT 10").pl()
            written = {STAGED_AFTER_KEY: staged[source].after} if added else {}
            yield dg.MaterializeResult(asset_key=["staging", source],
                                       metadata=table_metadata(preview, rows, new_lines=added, **written))
