r"""JSON numbers that DuckDB's JSON functions do not read as the decimal they spell (SPEC §5).

DuckDB reads a JSON number with a fraction or an exponent as a binary double, and its JSON functions
give back that double's shortest text: ``1.000000000000000001`` comes back as ``1.0`` and
``123456789012345678.5`` as ``123456789012345680.0``. Integers are exact (64-bit, or the raw text when
larger), and so is every number of up to 15 significant digits in the normal range of a double. A
number that is not is found here, from the line's own text, so that its record is quarantined
``invalid_value`` rather than billed rounded.

Only lines that can hold one are parsed in Python (``flag_maybe_inexact``); every number of such a line is
judged. A number of 16 significant digits has 8 after its point, or 9 before it, or 16 before an
exponent; one out of range has an exponent below -99. Digits after a point count only when what follows
can end a number: a time's fraction (``12:00:00.123456789Z``) does not send its line to Python. Each
pattern starts with a literal, which RE2 finds quickly; the digits before a point are found in the
reversed line (one alternation of these patterns, or one that starts with ``\d``, scanned 330 MB/s
instead of 2 GB/s), reversed once per line (``flag_maybe_inexact``): DuckDB's ``reverse`` walks the
line's grapheme clusters, and three calls of it were most of the scan.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

_MAYBE_INEXACT = " OR ".join([
    r"regexp_matches(envelope, '\.\d{8,}[,}\]\seE]')",
    r"regexp_matches(envelope, 'e-\d{3}')",
    r"regexp_matches(envelope, 'E-\d{3}')",
    r"regexp_matches(reversed_envelope, '\.\d{9}')",
    r"regexp_matches(reversed_envelope, 'e[+-]?\d{16}')",
    r"regexp_matches(reversed_envelope, 'E[+-]?\d{16}')",
])


def flag_maybe_inexact(relation: str) -> str:
    """A query of the rows of ``relation`` (a table or subquery with an ``envelope`` column) with
    ``maybe_inexact``: whether the line can hold a number DuckDB reads as another value."""
    return (f"SELECT * EXCLUDE (reversed_envelope), {_MAYBE_INEXACT} AS maybe_inexact "
            f"FROM (SELECT *, reverse(envelope) AS reversed_envelope FROM {relation})")


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OUTERMOST_ELEMENT = re.compile(r'^(?:[^\["]|"(?:[^"\\]|\\.)*")*\[\d+\]')


class _Inexact:
    """What the parser makes of a number DuckDB would read as another value. ``short_fraction``: it has
    at most 15 significant digits and is not an integer (``1e-400``, which DuckDB reads as ``0.0``).
    SPEC §2 guarantees such a number is read exactly, so a field typed ``integer`` judges it a
    non-integer; a longer number may be quarantined ``invalid_value`` instead, and is."""

    def __init__(self, short_fraction: bool) -> None:
        self.short_fraction = short_fraction


def _number(text: str):
    value, exact = float(text), Decimal(text)
    if not math.isfinite(value) or Decimal(repr(value)) == exact:
        return None
    significant = "".join(map(str, exact.as_tuple().digits)).rstrip("0")
    return _Inexact(len(significant) <= 15 and exact != exact.to_integral_value())


def inexact_numbers(line: str) -> list[str]:
    """The JSON paths (``$.body.events[0].properties[1].quantity``) of the numbers in ``line`` that
    DuckDB reads as another value, in document order; none for a line that is not JSON."""
    return inexact_number_paths(line)[0]


def inexact_number_paths(line: str) -> tuple[list[str], list[str]]:
    """``inexact_numbers``, and those of them that spell a number of at most 15 significant digits that
    is not an integer: a field the schema types ``integer`` judges it by the value spelled (SPEC §2 step
    3), whatever DuckDB reads. Every member of an object counts, a repeated key too (DuckDB reads the
    first, Python's ``json`` the last).

    Within one element of the outermost array on a path (a paygentic event) only the first is kept: it
    is all the record's problem names, and a batch line of 1000 events, each with many such numbers,
    would otherwise hand every event row a list of all of them."""
    try:
        document = json.loads(line, parse_float=_number, object_pairs_hook=list)
    except (ValueError, RecursionError):
        return [], []
    found: list[tuple[str, bool]] = []
    _walk(document, "$", found)
    first: dict[str, tuple[str, bool]] = {}
    for path, short_fraction in found:
        root = _OUTERMOST_ELEMENT.match(path)
        first.setdefault(root.group(0) if root else path, (path, short_fraction))
    kept = list(first.values())
    return [path for path, _ in kept], [path for path, short_fraction in kept if short_fraction]


def _walk(node, path: str, found: list[tuple[str, bool]]) -> None:
    if isinstance(node, _Inexact):
        found.append((path, node.short_fraction))
    elif isinstance(node, list) and node and all(isinstance(p, tuple) for p in node):
        for key, value in node:  # an object, as (key, value) pairs
            _walk(value, f"{path}.{key}" if _IDENTIFIER.fullmatch(key) else f"{path}.{json.dumps(key)}", found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _walk(value, f"{path}[{index}]", found)
