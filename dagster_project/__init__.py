"""tally's Dagster project: assets by layer (raw → staging → intermediate → marts → publish)."""

from dagster_project.definitions import build_definitions, defs

__all__ = ["build_definitions", "defs"]
