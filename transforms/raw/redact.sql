-- Credentials never reach the warehouse (SPEC §1). In a JSON envelope only the top-level `headers`
-- object is touched; a line that is not JSON has any credential-named member blanked by pattern,
-- since its structure cannot be trusted.
-- list_distinct: a name given twice in one object would otherwise make two equal map keys (an error).
CREATE OR REPLACE TEMP MACRO credential_keys(headers) AS
    list_distinct(list_filter(json_keys(headers), lambda k: lower(k) IN
        ('authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key')));

-- The top-level headers of a line that may be strict JSON, else NULL; the line is parsed once.
-- json_merge_patch re-serializes the line, so a line DuckDB reads leniently (trailing comma, NaN,
-- Infinity) must not take that way: it stays as it was, to be invalid_json.
CREATE OR REPLACE TEMP MACRO headers_object(line) AS CASE
    WHEN NOT regexp_matches(line, '[:\[,]\s*[-+]?(?i:nan|inf)|,\s*[\]}]') AND starts_with(ltrim(line), '{')
    THEN try(json_extract(line, '$.headers')) END;

-- `credentials`: the credential names among the headers (NULL when the headers are not a JSON object).
CREATE OR REPLACE TEMP MACRO redact_envelope(line, credentials) AS CASE
    WHEN credentials IS NULL THEN regexp_replace(line,
        '(?i)("(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key)"\s*:\s*)("(?:[^"\\]|\\.)*"|\[(?:[^\]"]|"(?:[^"\\]|\\.)*"?)*\]?|[^,}\]]*)',
        '\1"[REDACTED]"', 'g')
    WHEN len(credentials) = 0 THEN line
    ELSE json_merge_patch(line, json_object('headers', to_json(map_from_entries(list_transform(
        credentials, lambda k: {'k': k, 'v': '[REDACTED]'})))))::VARCHAR
END;
