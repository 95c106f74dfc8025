"""Raw layer: dump files loaded once each (by sha256) into one table per source.

Refused files (SPEC §1: a loaded file whose bytes changed, a file or folder that cannot be read whole) do
not stop the load: everything else is loaded and billed. They are named in each raw asset's metadata and
fail its non-blocking `files_readable` check (WARN), which is where a schedule's or the UI's run shows
them; `tally run` names them in its summary and exits 3.
"""


import time
from pathlib import Path

import dagster as dg
import polars as pl

from dagster_project.metadata import LOAD_ID_KEY, markdown_table, table_metadata
from dagster_project.progress import file_progress
from dagster_project.resources import TallyWarehouse
from transforms.raw.dump_files import SOURCES, RawDirError, check_raw_dir
from transforms.lifecycle.control import read_close
from transforms.raw.load import MissingFiles, load_raw_dir, raw_table
from transforms.raw.refused import Refused

FILES_READABLE = "files_readable"


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
    check_specs=[
        dg.AssetCheckSpec(
            FILES_READABLE, asset=["raw", source], blocking=False,
            description=f"Every {source} dump file was loaded or already loaded: none was refused (its bytes "
                        "changed since it was loaded, or it or its folder cannot be read whole).",
        )
        for source in SOURCES
    ],
)
def raw_tables(context: dg.AssetExecutionContext, warehouse: TallyWarehouse):
    """Loads every dump file not loaded before; a rerun over the same files changes nothing."""
    raw_dir = Path(warehouse.raw_dir)
    try:
        check_raw_dir(raw_dir)
    except RawDirError as error:
        raise dg.Failure(f"{error.problem}: {error.hint}") from None
    reported = 0.0

    def on_file(done: int, total: int, dump) -> None:
        # Progress for displays, as debug messages (plain output leaves them out), at most ~5 a second.
        nonlocal reported
        if done == total or time.monotonic() - reported >= 0.2:
            reported = time.monotonic()
            context.log.debug(file_progress(done, total, dump.source_file))

    only = None
    if warehouse.only_close:
        only = read_close(Path(warehouse.only_close)).files
    with warehouse.connect() as con:
        try:
            report = load_raw_dir(con, raw_dir, on_file, only)
        except MissingFiles as missing:
            raise dg.Failure(
                f"close file {warehouse.only_close} records dump files that are not in {raw_dir} with the bytes it "
                f"records: {', '.join(missing.paths[:10])}. Close files are computed from exactly those files: "
                "restore them (dump files are kept, never edited) and run tally again.") from None
        context.log.info(
            f"loaded {len(report.loaded)} new dump files, skipped {len(report.skipped)} already loaded"
        )
        for refused in report.refused:
            context.log.warning(f"refused {refused.describe()}")
        for source in SOURCES:
            table = raw_table(source)
            rows = con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            preview = con.sql(f"SELECT source_file, line_number, envelope FROM {table} LIMIT 5").pl()
            refused = [r for r in report.refused if r.source == source]
            yield dg.MaterializeResult(
                asset_key=["raw", source],
                metadata=table_metadata(
                    preview, rows,
                    new_files=len([f for f in report.loaded if f.source == source]),
                    new_lines=report.lines_by_source[source],
                    refused_files=len(refused),
                    **({"refused": _refused_table(refused)} if refused else {}),
                    **({LOAD_ID_KEY: report.load_id} if report.lines_by_source[source] else {}),
                ),
            )
        for source in SOURCES:
            refused = [r for r in report.refused if r.source == source]
            yield dg.AssetCheckResult(
                asset_key=["raw", source], check_name=FILES_READABLE, passed=not refused,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"refused_files": len(refused), "refused": _refused_table(refused)},
            )


def _refused_table(refused: list[Refused]) -> dg.MetadataValue:
    frame = pl.DataFrame({"file": [r.source_file for r in refused], "reason": [r.reason for r in refused]},
                         schema={"file": pl.String, "reason": pl.String})
    return dg.MetadataValue.md(markdown_table(frame))
