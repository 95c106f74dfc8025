"""Staging: one asset per vendor, each the same thin wrapper over its model in transforms.staging."""


import dagster as dg

from dagster_project.metadata import STAGED_AFTER_KEY, table_metadata
from dagster_project.resources import TallyWarehouse
from transforms.staging import MODELS, VendorModel, stage_new_lines, staged_through


def staging_asset(model: VendorModel) -> dg.AssetsDefinition:
    @dg.asset(
        key=["staging", model.source],
        deps=[["raw", model.source]],
        group_name="staging",
        description=(
            f"One row per usage line of every {model.source} record, parsed and typed, "
            "with the SPEC step 1–4 reason when it cannot be billed."
        ),
    )
    def _staging(context: dg.AssetExecutionContext, warehouse: TallyWarehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            staged_after = staged_through(con, model)
            added = stage_new_lines(con, model)
            context.log.info(f"staged {added} new {model.source} usage lines")
            rows = con.sql(f"SELECT count(*) FROM {model.table}").fetchall()[0][0]
            preview = con.sql(f"SELECT * FROM {model.table} ORDER BY source_file, line_number LIMIT 10").pl()
        written = {STAGED_AFTER_KEY: staged_after} if added else {}
        return dg.MaterializeResult(metadata=table_metadata(preview, rows, new_lines=added, **written))

    return _staging


staging_assets = [staging_asset(model) for model in MODELS.values()]
