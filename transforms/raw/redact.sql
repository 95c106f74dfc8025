-- Credentials never reach the warehouse (SPEC §1). In a JSON envelope only the top-level `headers`
-- object is touched; a line that is not JSON has any credential-named member blanked by pattern,
-- since its structure cannot be trusted.
-- list_distinct: a name given twice in one object would otherwise make two equal map keys (an error).
CREATE OR REPLACE TEMP MACRO credential_keys(headers) AS
    list_distinct(list_filter(json_keys(headers), lambda k: lower(k) IN
        ('authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key')));

-- json_merge_patch re-serializes the line, so only lines that may be strict JSON take this way: one
-- that DuckDB reads leniently (trailing comma, NaN, Infinity) must stay as it was, to be invalid_json.
CREATE OR REPLACE TEMP MACRO headers_object(line) AS CASE WHEN json_valid(line)
    AND NOT regexp_matches(line, '[:\[,]\s*[-+]?(?i:nan|inf)|,\s*[\]}]') THEN
    CASE WHEN json_type(line) = 'OBJECT' AND json_type(line, '$.headers') = 'OBJECT'
         THEN json_extract(line, '$.headers') END END;

CREATE OR REPLACE TEMP MACRO redact_envelope(line) AS CASE
    WHEN NOT regexp_matches(line, '(?i)authorization|cookie|x-api-key|\\u') THEN line
    WHEN headers_object(line) IS NOT NULL THEN CASE
        WHEN len(credential_keys(headers_object(line))) = 0 THEN line
        ELSE json_merge_patch(line, json_object('headers', to_json(map_from_entries(list_transform(
            credential_keys(headers_object(line)), lambda k: {'k': k, 'v': '[REDACTED]'})))))::VARCHAR END
    ELSE regexp_replace(line,
        '(?i)("(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key)"\s*:\s*)("(?:[^"\\]|\\.)*"|\[(?:[^\]"]|"(?:[^"\\]|\\.)*"?)*\]?|[^,}\]]*)',
        '\1"[REDACTED]"', 'g')
END;
