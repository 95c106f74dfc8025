"""What the published warehouse holds beside its five tables: analyst views and a comment on everything.

``views.sql`` defines the views for the common questions (revenue month over month, billed usage by
metric, quarantine reasons) and the lineage (``invoice_line_records``: invoice line → raw records;
``record_outcomes``: raw record → outcome). ``comments.sql`` is the data dictionary: a ``COMMENT`` on
every table, view and column, from which ``docs/warehouse.md`` is generated (``dagster_project.dictionary``).
Both run on the published file itself, so the views name its tables unqualified.
"""

from __future__ import annotations

import hashlib

import duckdb

from transforms.sql_files import read_sql
from transforms.transactions import transaction

ANALYST_VIEWS = (
    "revenue_month_over_month",
    "billed_usage_by_metric",
    "quarantine_reasons",
    "invoice_line_records",
    "record_outcomes",
)
_FILES = ("views.sql", "comments.sql")


def describe(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the analyst views and every comment in the warehouse ``con`` has open.

    Views from an earlier publication are dropped first, so the file holds exactly ``views.sql``'s. One
    transaction for all of it: the 250 or so statements each committed on their own took longer than
    the views and comments themselves.
    """
    with transaction(con):
        old_views = con.sql(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary AND schema_name = 'main'"
        ).fetchall()
        for (view,) in old_views:
            con.execute(f'DROP VIEW "{view}"')
        for name in _FILES:
            con.execute(read_sql(__file__, name))


def fingerprint() -> str:
    """sha256 of the views and comments: a published file with another one is out of date."""
    digest = hashlib.sha256()
    for name in _FILES:
        digest.update(read_sql(__file__, name).encode())
    return digest.hexdigest()
