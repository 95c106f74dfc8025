"""Pricing models (SPEC §8): a month's quantity rated by a graduated, volume or package price row, and
minimum commitments, as invoice lines with ``kind`` and ``tier``.

Per-unit usage keeps one line per unit price (kind ``usage``, no tier). A rated row turns the month's
aggregate Q of the usage it prices into:

- ``graduated``: one ``usage`` line per tier Q reaches (units above the tier's lower bound), each unit at
  its tier's price, and each reached tier's non-zero flat fee as a ``flat_fee`` line. Q = 0 is one line
  of 0 in tier 1 and no fee: no unit reached a tier.
- ``volume``: one ``usage`` line of all of Q at the price of the tier holding Q (lower < Q ≤ up_to; Q = 0
  is in tier 1), and that tier's non-zero flat fee.
- ``package``: ceil(Q / package_size) packages at the row's price per package; the line's quantity is the
  packages.

A ``flat_fee`` line has quantity 1 and the fee as its unit price. Every line's amount is its quantity
times its unit price, rounded once (``invoices.line_amount``). ``description`` says each line in the
words a document shows.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, localcontext

import polars as pl

from transforms.marts.formatting import format_quantity

MINIMUM_METRIC = "minimum_commitment"  # the metric_id of a minimum line, as Orb shows a minimum: on its own
LINE_COLUMNS = ["invoice_id", "customer_id", "period_start", "metric_id", "aggregation", "price_model", "kind",
                "tier", "unit_price", "quantity", "currency", "event_count", "description"]


def rate(aggregated: pl.DataFrame, tiers: pl.DataFrame, packages: pl.DataFrame) -> pl.DataFrame:
    """Invoice lines before amounts: per-unit aggregates as they are, rated ones expanded. ``tiers`` and
    ``packages`` are the reference rows (``ref_price_tiers``; the package rows of ``ref_prices``)."""
    per_unit = aggregated.filter(pl.col("price_model") == "per_unit").with_columns(
        kind=pl.lit("usage"), tier=pl.lit(None, pl.Int32), description=pl.col("metric_id"))
    lines = per_unit.select(LINE_COLUMNS)
    tiers_of = _by_row(tiers)
    package_of = {key: rows[0] for key, rows in _by_row(packages).items()}
    rows = []
    for line in aggregated.filter(pl.col("price_model") != "per_unit").iter_rows(named=True):
        key = (line["metric_id"], line["price_row_customer"], line["currency"], line["price_row_from"])
        if line["price_model"] == "package":
            rows.append(_package(line, package_of[key]))
        else:
            rows += (_graduated if line["price_model"] == "graduated" else _volume)(line, tiers_of[key])
    return pl.concat([lines, pl.DataFrame(rows, schema=lines.schema)]) if rows else lines


def _by_row(frame: pl.DataFrame) -> dict[tuple, list[dict]]:
    """Reference rows by their price row's key (metric_id, customer_id, currency, effective_from)."""
    grouped: dict[tuple, list[dict]] = {}
    for row in (frame.sort("tier") if "tier" in frame.columns else frame).iter_rows(named=True):
        key = (row["metric_id"], row["customer_id"], row["currency"], row["effective_from"])
        grouped.setdefault(key, []).append(row)
    return grouped


def _line(line: dict, kind: str, tier: int | None, unit_price: Decimal, quantity: Decimal, description: str,
          events: int) -> dict:
    return {**{c: line[c] for c in LINE_COLUMNS if c in line}, "kind": kind, "tier": tier, "unit_price": unit_price,
            "quantity": quantity, "event_count": events, "description": description}


def _bounds(tier: dict) -> str:
    upper = "and above" if tier["up_to"] is None else f"to {format_quantity(tier['up_to'])}"
    return f"tier {tier['tier']}: units above {format_quantity(tier['lower_bound'])} {upper}"


def _graduated(line: dict, tiers: list[dict]) -> list[dict]:
    quantity, metric, rows = line["quantity"], line["metric_id"], []
    for tier in tiers:
        if quantity <= tier["lower_bound"] and not (quantity == 0 and tier["tier"] == 1):
            break
        top = quantity if tier["up_to"] is None else min(quantity, tier["up_to"])
        rows.append(_line(line, "usage", tier["tier"], tier["unit_price"], top - tier["lower_bound"],
                          f"{metric}, graduated {_bounds(tier)}", line["event_count"]))
        if tier["flat_fee"] and quantity > 0:
            rows.append(_line(line, "flat_fee", tier["tier"], tier["flat_fee"], Decimal(1),
                              f"{metric}, flat fee of graduated tier {tier['tier']}", 0))
    return rows


def _volume(line: dict, tiers: list[dict]) -> list[dict]:
    quantity, metric = line["quantity"], line["metric_id"]
    tier = next(t for t in tiers if t["up_to"] is None or quantity <= t["up_to"])
    rows = [_line(line, "usage", tier["tier"], tier["unit_price"], quantity,
                  f"{metric}, volume {_bounds(tier)}: every unit at this tier's price", line["event_count"])]
    if tier["flat_fee"]:
        rows.append(_line(line, "flat_fee", tier["tier"], tier["flat_fee"], Decimal(1),
                          f"{metric}, flat fee of volume tier {tier['tier']}", 0))
    return rows


def _package(line: dict, row: dict) -> dict:
    size = row["package_size"]
    with localcontext() as ctx:
        ctx.prec = 100
        packages = (line["quantity"] / Decimal(size)).to_integral_value(rounding=ROUND_CEILING)
    return _line(line, "usage", None, row["unit_price"], packages,
                 f"{line['metric_id']}, {format_quantity(packages)} packages of {size} "
                 f"({format_quantity(line['quantity'])} units)", line["event_count"])


def minimum_lines(totals: pl.DataFrame, commitments: pl.DataFrame, months: list, span: tuple,
                  schema: pl.Schema) -> pl.DataFrame:
    """A ``minimum`` line per customer and month of ``months`` that a commitment covers (its first day in the
    row's dates, and within ``span``: the first to the last month with billed usage of any customer) and
    whose invoice total (``totals``: customer_id, period_start, total) is below the minimum, with or
    without usage of its own: the difference, as quantity 1 at that price."""
    first, last = span
    totals_of = {(c, p): t for c, p, t in totals.select("customer_id", "period_start", "total").iter_rows()}
    rows = []
    for c in commitments.iter_rows(named=True):
        for month in months:
            if first is None or not (first <= month <= last) or (c["effective_from"] or first) > month \
                    or (c["effective_to"] is not None and month >= c["effective_to"]):
                continue
            short = c["minimum_amount"] - totals_of.get((c["customer_id"], month), Decimal(0))
            if short > 0:
                rows.append({
                    "invoice_id": f"INV-{month.strftime('%Y%m')}-{c['customer_id']}", "customer_id": c["customer_id"],
                    "period_start": month, "metric_id": MINIMUM_METRIC, "aggregation": None, "price_model": None,
                    "kind": "minimum", "tier": None, "unit_price": short, "quantity": Decimal(1),
                    "currency": c["currency"], "event_count": 0,
                    "description": f"Minimum commitment of {format_quantity(c['minimum_amount'])} {c['currency']} "
                                   f"a month: the difference to this month's charges",
                })
    return pl.DataFrame(rows, schema=schema)
