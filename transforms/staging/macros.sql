-- Shared value rules of SPEC §1–2, used by every vendor's staging model.

-- RFC 3339 instant: date, T, time with seconds, any fraction, and an offset (Z or ±hh:mm); NULL when
-- the text is not one.
CREATE OR REPLACE MACRO to_instant(t) AS CASE WHEN regexp_full_match(t,
    '\d{4}-\d{2}-\d{2}[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)')
    THEN TRY_CAST(upper(t) AS TIMESTAMPTZ) END;

-- tula's date-times may omit the offset (then UTC) and carry at most 7 fractional digits.
CREATE OR REPLACE MACRO to_tula_instant(t) AS CASE WHEN regexp_full_match(t,
    '\d{4}-\d{2}-\d{2}[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,7})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)?')
    THEN TRY_CAST(upper(t) || CASE WHEN regexp_matches(t, '([Zz]|[+-]\d{2}:\d{2})$') THEN '' ELSE 'Z' END AS TIMESTAMPTZ) END;

CREATE OR REPLACE MACRO is_json_number(json_type_name) AS
    coalesce(json_type_name IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT', 'UHUGEINT'), false);

CREATE OR REPLACE MACRO is_plain_decimal(t) AS coalesce(regexp_full_match(t, '-?[0-9]+(\.[0-9]+)?'), false);

-- Digits after the decimal point that carry value, once an exponent is applied (3.0 has none).
CREATE OR REPLACE MACRO fraction_digits(t) AS CASE WHEN contains(t, '.') OR contains(t, 'e') OR contains(t, 'E')
    THEN greatest(0, length(rtrim(regexp_extract(t, '^-?\d+(?:\.(\d+))?', 1), '0'))
        - coalesce(TRY_CAST(nullif(regexp_extract(t, '[eE]([+-]?\d+)$', 1), '') AS INTEGER), 0))
    ELSE 0 END;

-- Quantities and unit prices are DECIMAL(38, 18); a value that does not fit exactly is NULL, never rounded.
CREATE OR REPLACE MACRO to_amount(t) AS CASE WHEN fraction_digits(t) <= 18 THEN TRY_CAST(t AS DECIMAL(38, 18)) END;

-- The value problem of a record whose JSON (at `prefix`, e.g. '$.body') holds a number DuckDB reads as
-- another value (`inexact_paths`, from exact_numbers.py); NULL when it holds none.
CREATE OR REPLACE MACRO inexact_number_problem(inexact_paths, prefix) AS
    'invalid_value: ' || substr(list_filter(inexact_paths, lambda p: starts_with(p, prefix || '.'))[1], length(prefix) + 2)
    || ' is a number that cannot be read exactly (more than 15 significant digits, or beyond the range of a double)';

CREATE OR REPLACE MACRO is_negative(t) AS starts_with(ltrim(t), '-') AND coalesce(TRY_CAST(t AS DECIMAL(38, 18)) <> 0, true);

-- A header by case-insensitive name; the last spelling wins.
CREATE OR REPLACE MACRO header_value(headers, header_name) AS json_extract_string(headers,
    '$."' || list_filter(json_keys(headers), lambda k: lower(k) = header_name)[-1] || '"');

-- A member's JSON text from its JSON type and its json_extract_string text, which unquotes a string
-- and is NULL for a JSON null; NULL when the member is absent.
CREATE OR REPLACE MACRO json_text(json_type_name, text) AS CASE json_type_name
    WHEN 'VARCHAR' THEN to_json(text)::VARCHAR
    WHEN 'NULL' THEN 'null'
    ELSE text
END;

-- Does a present optional field have the wrong JSON type? (null is not "absent")
CREATE OR REPLACE MACRO wrong_type(actual, expected) AS actual IS NOT NULL AND actual <> expected;

-- Instants are stored to the microsecond; the further fractional digits (trailing zeros trimmed, so
-- text order is value order) break ties between instants of the same microsecond.
CREATE OR REPLACE MACRO sub_microseconds(t) AS
    rtrim(substr(regexp_extract(t, '\.(\d+)', 1), 7), '0');

