"""The common shape of a line that carries a credential, redacted in Polars instead of line by line.

Most captured requests that carry a credential look alike: no escape, one top-level ``headers`` object
of plain values, each credential one of its members with a string value. For those lines
``redact.redact_line`` comes down to a text replacement, which Polars does on a whole batch at once
(line by line, Python took about twice as long as the SQL redaction it replaced; this takes half). Any other line gets
``None`` here and goes through ``redact_line``.

Why the replacement is ``redact_line``'s result exactly, for a line with these properties:

- Without a backslash no string holds a quote, so ``"…"`` spans are the line's strings. The first
  ``"headers"`` is followed by ``:``, so it is a name and the text before it is whole tokens, whose
  unquoted brackets give its depth: 1 is a top-level member.
- One key in the whole line contains ``headers`` in any case (Rust's ``(?i)`` folds as Python's
  ``casefold`` does for these letters, ``ſ`` included), so no other top-level member is ``headers``;
  and the object has no bracket outside its strings, so it holds no nested value.
- Every credential name, in any case, occurs in the line only as the name of one of its members with a
  string value (the counts are equal; each name contains exactly one of the three stems). So the
  replaced values are exactly the credentials of the top-level ``headers``: the strict result. For a
  line that is not JSON, the lenient scan finds exactly these name-value pairs too.
"""

from __future__ import annotations

import polars as pl

# SPEC §1's credential headers, and the stems every one of their names contains (proxy-authorization,
# set-cookie); the patterns below and ``redact`` derive from these.
CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
CREDENTIAL_STEMS = ("authorization", "cookie", "x-api-key")
CREDENTIAL_STEM = f"(?i:{'|'.join(CREDENTIAL_STEMS)})"
_CREDENTIAL_MEMBER = rf'("(?i:{"|".join(sorted(CREDENTIALS, key=len, reverse=True))})"[ \t\r]*:[ \t\r]*)"[^"]*"'
_HEADERS_LIKE_KEY = r'"[^"]*(?i:headers)[^"]*"[ \t\r]*:'
# After the first `"headers"`: its value, a flat object (no bracket outside its strings).
_FLAT_OBJECT = r'^[ \t\r]*:[ \t\r]*\{(?:[^{}\[\]"]|"[^"]*")*\}'


def redact_flat(envelope: pl.Series) -> pl.Series:
    """Each line redacted, when it has the common shape (see the module); else null."""
    frame = pl.DataFrame({"line": envelope}).with_columns(
        pl.col("line").str.splitn('"headers"', 2).struct.rename_fields(["before", "tail"]).alias("parts"),
    ).unnest("parts").with_columns(
        pl.col("tail").str.extract(_FLAT_OBJECT, 0).alias("headers"),
        pl.col("before").str.replace_all(r'"[^"]*"', "").alias("unquoted"),
    )
    flat = (
        ~pl.col("line").str.contains("\\", literal=True)
        & (pl.col("line").str.count_matches(_HEADERS_LIKE_KEY) == 1)
        & (pl.col("unquoted").str.count_matches(r"[{\[]") - pl.col("unquoted").str.count_matches(r"[}\]]") == 1)
        & (pl.col("line").str.count_matches(CREDENTIAL_STEM) == pl.col("headers").str.count_matches(_CREDENTIAL_MEMBER))
    )
    redacted = pl.concat_str([
        pl.col("before"), pl.lit('"headers"'),
        pl.col("headers").str.replace_all(_CREDENTIAL_MEMBER, '${1}"[REDACTED]"'),
        pl.col("tail").str.slice(pl.col("headers").str.len_chars()),
    ])
    return frame.select(pl.when(flat).then(redacted).alias("envelope")).to_series()
