"""tally's Dagster project: assets by layer (raw → staging → intermediate → marts → publish).

``defs`` and ``build_definitions`` are imported on first use (PEP 562), so that the ``tally`` commands
that never run a job do not pay for importing Dagster; ``dagster dev -m dagster_project`` finds ``defs``
all the same.
"""

__all__ = ["build_definitions", "defs"]


def __getattr__(name: str):
    if name in __all__:
        from dagster_project import definitions

        return getattr(definitions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
