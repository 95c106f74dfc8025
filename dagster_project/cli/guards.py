"""Checks made before a command does anything, so that a mistake in the command changes no file.

The decisions are in ``transforms.ownership`` (which files tally may replace or rebuild); this module
turns them into messages and exit statuses (SPEC §6: 2, a mistake in the command).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dagster_project.cli.common import EXIT_USAGE, CommandError


def check_dagster_home() -> None:
    """DAGSTER_HOME, when set, must name an existing folder by an absolute path, as Dagster requires."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return
    if not os.path.isabs(home):
        problem = f"DAGSTER_HOME is set to {home}, a relative path; Dagster needs an absolute one"
    elif not os.path.isdir(home):
        problem = (f"DAGSTER_HOME is set to {home}, which " +
                   ("is not a folder" if os.path.exists(home) else "does not exist"))
    else:
        return
    raise CommandError(problem, "Create that folder (mkdir -p), set DAGSTER_HOME to an existing folder by its "
                                "absolute path, or unset it to run without a Dagster instance; nothing was run.",
                       EXIT_USAGE)


def claim_db(db: Path) -> None:
    """Before a run: refuse a ``--db`` tally does not own; move aside (and say so) a working database
    DuckDB cannot open and tally's own damaged warehouse, which the run then rebuilds and republishes."""
    from transforms.ownership import NotOurs, check_published, recover_state, remembered_published

    try:
        moved = check_published(db, remembered_published(db))
    except NotOurs as refused:
        raise CommandError(refused.problem, refused.next_step, EXIT_USAGE) from None
    if moved is not None:
        print(f"tally run: {db}, the warehouse tally published last, cannot be read; moved it to {moved}. "
              "This run publishes every table again.", file=sys.stderr)
    recovered = recover_state(db)
    if recovered is not None:
        problem, where = recovered
        print(f"tally run: the working database could not be read ({problem}); moved it to {where} and "
              "rebuilding it from the dumps and reference data (every file is loaded again).", file=sys.stderr)
