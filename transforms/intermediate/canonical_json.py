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
        return "0" if value == 0 else str(value.normalize())
    return json.dumps(value)
