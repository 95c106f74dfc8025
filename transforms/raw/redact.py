"""Credentials never reach anything tally writes (SPEC §1): redaction of raw lines, exact to the byte.

A raw line is stored as captured but for the values of credential headers, which become
``"[REDACTED]"``. Redaction changes nothing else: not the key order, the whitespace, the spelling of a
number or of an escape, nor a body property that happens to be called ``cookie``. Re-delivery (SPEC §2
step 6) compares lines as stored, and ``quarantine.raw`` shows them, so a redactor that re-serialized
the line (as DuckDB's ``json_merge_patch`` did) would respell numbers there and could drop data.

- **A JSON object** (strict JSON: no NaN, no trailing comma): every top-level member named ``headers``
  (each copy of a repeated member; names decoded, compared case-folded and without surrounding spaces)
  is scanned with the source spans of its members. The value of a member whose name is a credential is
  replaced, and so is a nested value (object or array) that names one: header values are strings, and
  a structure that names a credential inside the request's headers is treated as one. A ``headers``
  that is not an object (a string, an array) and names a credential is replaced whole. Nothing outside
  the top-level ``headers`` is touched.
- **Anything else** (not JSON, not UTF-8, not an object): its structure cannot be trusted, so every
  place where a credential name is followed by ``:`` or ``=`` (quoted or bare, in the line as written
  and with its escapes decoded, up to four levels deep) has the value after it replaced: a quoted
  string (to the end of the line if unterminated), a bracketed group, or a bare run up to ``,``, ``}``,
  ``]``. A ``["Authorization", "…"]`` pair is treated the same way. This errs on the side of redacting
  too much; such a line is quarantined ``invalid_json`` and is never billed.

Only lines that may hold a credential are looked at (``may_hold_credential``, a superset): a name can
only be spelled with its letters (any case; Python's case folding adds ``ſ`` for s and the Kelvin sign
for k, which Rust's ``(?i)`` also matches) or with an escape, which needs a backslash. Those of the
common shape are redacted in Polars (``redact_flat``), the others here.
"""

from __future__ import annotations

import json
import re

import polars as pl

from transforms.raw.redact_flat import CREDENTIAL_STEM, CREDENTIAL_STEMS, CREDENTIALS, redact_flat

REDACTED = '"[REDACTED]"'


def may_hold_credential(lines: pl.Expr) -> pl.Expr:
    """Whether each line may hold a credential: a superset of the lines ``redact_line`` can change (a
    stem of a name in any case, or a backslash). Two scans: one pattern with both alternatives loses the
    regular expression engine's literal prefilter (1.2 s against 0.35 s over the 1M benchmark's lines)."""
    return lines.str.contains(CREDENTIAL_STEM) | lines.str.contains("\\", literal=True)


def is_credential(name: str) -> bool:
    """Whether a header name (decoded) is a credential: compared case-folded, surrounding spaces aside."""
    return name.strip().casefold() in CREDENTIALS


def names_credential(text: str) -> bool:
    """Whether ``text`` (decoded) contains a credential name anywhere, in any case."""
    folded = text.casefold()
    return any(stem in folded for stem in CREDENTIAL_STEMS)


def redact_line(line: str, utf8_valid: bool = True) -> str:
    """The line with the values of its credentials replaced by ``"[REDACTED]"``, every other byte kept."""
    value = _strict_json(line) if utf8_valid else None
    if isinstance(value, dict):
        if not any(k.strip().casefold() == "headers" for k in value):
            return line
        return _replace(line, _envelope_spans(line))
    return _replace(line, _lenient_spans(line))


def redact_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """``lines`` (columns ``envelope``, ``utf8_valid``) with credentials redacted. Only the lines that
    ``may_hold_credential`` are looked at: those of the common shape are redacted in Polars
    (``redact_flat``), the others one by one by ``redact_line``. Lines that do not match are kept as
    they are."""
    suspect = lines.select(may_hold_credential(pl.col("envelope"))).to_series()
    if not suspect.any():
        return lines
    subset = lines.select("envelope", "utf8_valid").filter(suspect)
    flat = redact_flat(subset["envelope"])
    slow = flat.is_null()
    redacted = flat.scatter(slow.arg_true(), pl.Series([
        redact_line(text, valid) for text, valid in subset.filter(slow).select("envelope", "utf8_valid").iter_rows()
    ], dtype=pl.String))
    envelope = lines["envelope"].clone().scatter(suspect.arg_true(), redacted)
    return lines.with_columns(envelope.alias("envelope"))


def _replace(line: str, spans: list[tuple[int, int]]) -> str:
    """``line`` with every span (merged where they overlap) replaced by ``"[REDACTED]"``."""
    if not spans:
        return line
    parts, pos = [], 0
    for start, end in _merged(spans):
        parts += [line[pos:start], REDACTED]
        pos = end
    parts.append(line[pos:])
    return "".join(parts)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# --- strict JSON ---------------------------------------------------------------------------------

def _reject_constant(name: str):
    raise ValueError(name)


# Numbers are kept as text: parsing them would cost time (and Python refuses integers of over 4300 digits).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=str, parse_float=str)
_scan_value = _DECODER.scan_once  # C: (value, end) of the JSON value at an index
_scan_string = json.decoder.scanstring  # C: (decoded text, end) of the string whose quote ends before an index


def _strict_json(line: str):
    """The parsed line if it is strict JSON (as staging judges it: no NaN or Infinity), else None.

    A line nested deeper than Python's recursion limit counts as not JSON here, so it is redacted by
    pattern: more than needed, never less."""
    try:
        return _DECODER.decode(line)
    except (ValueError, RecursionError):
        return None


_WS = re.compile(r"[ \t\n\r]*")


def _envelope_spans(line: str) -> list[tuple[int, int]]:
    """Spans of the credential values in the top-level ``headers`` members of a valid JSON object."""
    spans = []
    for name, start, end in _members(line, _WS.match(line).end()):
        if name.strip().casefold() != "headers":
            continue
        if line[start] != "{":
            if names_credential(_decoded(line[start:end])):
                spans.append((start, end))
            continue
        for header, value_start, value_end in _members(line, start):
            if is_credential(header) or (
                    line[value_start] in "{[" and names_credential(_decoded(line[value_start:value_end]))):
                spans.append((value_start, value_end))
    return spans


def _members(text: str, i: int):
    """(decoded name, value start, value end) of each member of the valid JSON object at ``text[i]``."""
    i = _WS.match(text, i + 1).end()
    if text[i] == "}":
        return
    while True:
        name, i = _scan_string(text, i + 1)
        i = _WS.match(text, i).end() + 1  # past ':'
        start = _WS.match(text, i).end()
        end = _scan_value(text, start)[1]
        yield name, start, end
        i = _WS.match(text, end).end()
        if text[i] == "}":
            return
        i = _WS.match(text, i + 1).end()  # past ','


def _decoded(value_text: str) -> str:
    """Every string of a JSON value (names included) as text, escapes decoded."""
    return json.dumps(_DECODER.decode(value_text), ensure_ascii=False)


# --- lenient: a line whose structure cannot be trusted -------------------------------------------

_NAME = r"(?:authorization|cookie|x-api-key)"
_KEY_VALUE = re.compile(_NAME + r"""[\\"'`]*\s*[:=]""", re.I)
_PAIR = re.compile(r"""\[\s*[\\"'`]*[\w-]*""" + _NAME + r"""[\\"'`]*\s*,""", re.I)
_ESCAPE = re.compile(r"\\(?:u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(.))", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_DECODING_ROUNDS = 4
_QUOTES = "\"'`"


def _lenient_spans(line: str) -> list[tuple[int, int]]:
    """Spans (in ``line``) of every value that follows a credential name, in the line as written and in
    its decoded forms (each escape decoded, up to ``_DECODING_ROUNDS`` times over)."""
    text, starts, ends = line, list(range(len(line))), list(range(1, len(line) + 1))
    spans = []
    for _ in range(_DECODING_ROUNDS + 1):
        for pattern in (_KEY_VALUE, _PAIR):
            for found in pattern.finditer(text):
                start, end = _lenient_value(text, found.end())
                if end > start:
                    spans.append((starts[start], ends[end - 1]))
        if "\\" not in text:
            break
        text, starts, ends = _decode_escapes(text, starts, ends)
    return spans


def _lenient_value(text: str, i: int) -> tuple[int, int]:
    """The value that starts at ``text[i]`` (after spaces): a quoted string, to its closing quote or the
    end; a bracketed group, to its matching bracket or the end; else a bare run up to , } ] or the end."""
    while i < len(text) and text[i].isspace():
        i += 1
    if i == len(text):
        return i, i
    if text[i] in _QUOTES:
        return i, _quoted_end(text, i)
    if text[i] in "[{":
        depth, j = 0, i
        while j < len(text):
            c = text[j]
            if c in _QUOTES:
                j = _quoted_end(text, j)
                continue
            if c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
                if depth == 0:
                    return i, j + 1
            j += 1
        return i, len(text)
    j = i
    while j < len(text) and text[j] not in ",}]":
        j += 1
    return i, j


def _quoted_end(text: str, i: int) -> int:
    """End of the string quoted by ``text[i]`` (backslash escapes honoured), or of the text."""
    quote, j = text[i], i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == quote:
            return j + 1
        else:
            j += 1
    return len(text)


def _decode_escapes(text: str, starts: list[int], ends: list[int]) -> tuple[str, list[int], list[int]]:
    """``text`` with its backslash escapes decoded (JSON's, and ``\\xHH``, ``\\u{…}``; an unknown escape
    stands for its character), and for each character the span of the line it came from."""
    chars, new_starts, new_ends, pos = [], [], [], 0
    for escape in _ESCAPE.finditer(text):
        chars += text[pos:escape.start()]
        new_starts += starts[pos:escape.start()]
        new_ends += ends[pos:escape.start()]
        code = escape.group(1) or escape.group(2) or escape.group(3)
        if code is not None:
            chars.append(chr(int(code, 16)) if int(code, 16) < 0x110000 else "\ufffd")
        else:
            chars.append(_SIMPLE_ESCAPES.get(escape.group(4), escape.group(4)))
        new_starts.append(starts[escape.start()])
        new_ends.append(ends[escape.end() - 1])
        pos = escape.end()
    chars += text[pos:]
    new_starts += starts[pos:]
    new_ends += ends[pos:]
    return "".join(chars), new_starts, new_ends
