"""The Pandera contracts reject what they promise to reject, and pass what a real run produces."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from transforms import contracts
from transforms.marts.invoices import QUANTITY

RECORD_RULE = "every record has one outcome on all its lines, and a first usage line (property_index 0)"


def priced(rows: list[tuple]) -> pl.DataFrame:
    """Priced usage lines: (source, line_number, record_index, property_index, outcome)."""
    frame = pl.DataFrame(rows, schema={"source": pl.String, "line_number": pl.Int64, "record_index": pl.Int32,
                                       "property_index": pl.Int32, "outcome": pl.String}, orient="row")
    billed = pl.col("outcome") == "billed"
    return frame.with_columns(
        (pl.col("source") + "/a.jsonl").alias("source_file"),
        pl.lit(None, pl.String).alias("reason"),
        pl.lit(Decimal(1), QUANTITY).alias("quantity"),
        pl.lit(Decimal("0.5"), QUANTITY).alias("unit_price"),
        pl.lit("price_book").alias("price_source"),
        pl.lit("per_unit").alias("price_model"),
        pl.when(billed).then(pl.lit("c1")).alias("customer_id"),
        pl.when(billed).then(pl.lit("m1")).alias("metric_id"),
        pl.when(billed).then(pl.lit(date(2026, 10, 1))).alias("period_start"),
    ).select(contracts.columns(contracts.PRICED_USAGE))


def failed_checks(frame: pl.DataFrame) -> set[str]:
    failures = contracts.failures(contracts.PRICED_USAGE, frame)
    return set() if failures is None else set(failures["check"])


def test_a_paygentic_record_billed_on_all_its_lines_holds():
    assert failed_checks(priced([
        ("paygentic", 1, 0, 0, "billed"), ("paygentic", 1, 0, 1, "billed"),
        ("paygentic", 1, 1, 0, "duplicate"), ("samplehc", 1, 0, 0, "billed"),
    ])) == set()


@pytest.mark.parametrize("rows", [
    [("paygentic", 1, 0, 0, "billed"), ("paygentic", 1, 0, 1, "duplicate")],  # two outcomes
    [("paygentic", 1, 0, 1, "billed"), ("paygentic", 1, 0, 2, "billed")],  # no first line
], ids=["two outcomes", "no first usage line"])
def test_a_record_split_between_outcomes_or_without_its_first_line_fails(rows):
    assert failed_checks(priced([*rows, ("samplehc", 1, 0, 0, "billed")])) == {RECORD_RULE}
