"""JSON value equality for re-delivered captures (SPEC §2 step 6): key order and number spelling aside.

DuckDB has no order-insensitive JSON comparison, so the few lines that could be re-deliveries (same
source and same ``receivedAt``) are compared here, exactly, with numbers as decimals.
"""

from __future__ import annotations

import json
from decimal import Decimal


def canonical_json(text: str) -> str:
    """A spelling of the JSON value in ``text`` that is equal for equal values, and only for them."""
    return _encode(json.loads(text, parse_float=Decimal, parse_int=Decimal))


def _encode(value) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_encode(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return _number(value)
    return json.dumps(value)


def _number(value: Decimal) -> str:
    """Digits without trailing zeros and an exponent: exact for any number of digits.

    ``Decimal.normalize`` rounds to its context's precision (28 digits by default), which would make two
    numbers that differ only after the 28th significant digit equal.
    """
    if value == 0:
        return "0"
    sign, digits, exponent = value.as_tuple()
    text = "".join(map(str, digits))
    stripped = text.rstrip("0")
    return f"{'-' if sign else ''}{stripped}E{exponent + len(text) - len(stripped)}"
