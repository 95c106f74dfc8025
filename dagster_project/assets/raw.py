"""Raw layer: dump files loaded once each (by sha256) into one table per source."""


import time
from pathlib import Path

import dagster as dg

from dagster_project.metadata import LOAD_ID_KEY, table_metadata
from dagster_project.progress import file_progress
from dagster_project.resources import TallyWarehouse
from transforms.raw.dump_files import SOURCES, discover_dump_files
from transforms.raw.load import known_hashes, load_dump_files, raw_table


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["raw", source],
            # Reference data is validated first: a bad file stops the run before anything is loaded.
            deps=[["reference", "tables"]],
            group_name="raw",
            description=f"One row per non-blank line of every {source} dump file, credentials redacted.",
        )
        for source in SOURCES
    ],
)
def raw_tables(context: dg.AssetExecutionContext, warehouse: TallyWarehouse):
    """Loads every dump file not loaded before; a rerun over the same files changes nothing."""
    raw_dir = Path(warehouse.raw_dir)
    if not raw_dir.is_dir():
        raise dg.Failure(f"raw directory {raw_dir} does not exist: pass --raw-dir DIR or set TALLY_RAW_DIR to the "
                         "folder with one subfolder per source (samplehc, tula, sequence, paygentic)")
    reported = 0.0

    def on_file(done: int, total: int, dump) -> None:
        # Progress for displays, as debug messages (plain output leaves them out), at most ~5 a second.
        nonlocal reported
        if done == total or time.monotonic() - reported >= 0.2:
            reported = time.monotonic()
            context.log.debug(file_progress(done, total, dump.source_file))

    with warehouse.connect() as con:
        report = load_dump_files(con, discover_dump_files(raw_dir, known_hashes(con)), on_file)
        context.log.info(
            f"loaded {len(report.loaded)} new dump files, skipped {len(report.skipped)} already loaded"
        )
        for source in SOURCES:
            table = raw_table(source)
            rows = con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            preview = con.sql(f"SELECT source_file, line_number, envelope FROM {table} LIMIT 5").pl()
            yield dg.MaterializeResult(
                asset_key=["raw", source],
                metadata=table_metadata(
                    preview, rows,
                    new_files=len([f for f in report.loaded if f.source == source]),
                    new_lines=report.lines_by_source[source],
                    **({LOAD_ID_KEY: report.load_id} if report.lines_by_source[source] else {}),
                ),
            )
