-- The lines of a batch of dump files (`dump_lines`, each with its file's `file_sha256`) as the raw
-- layer keeps them: credentials redacted.
-- Each step is its own projection so a line is scanned for credential names, and parsed, once.
WITH flagged AS (
    SELECT *, regexp_matches(envelope, '(?i)authorization|cookie|x-api-key|\\u') AS may_hold_credentials
    FROM dump_lines
), parsed AS (
    SELECT *, CASE WHEN may_hold_credentials THEN headers_object(envelope) END AS headers FROM flagged
), keyed AS (
    SELECT *, CASE WHEN json_type(headers) = 'OBJECT' THEN credential_keys(headers) END AS credentials FROM parsed
)
SELECT source_file, file_sha256, line_number,
    CASE WHEN may_hold_credentials THEN redact_envelope(envelope, credentials) ELSE envelope END AS envelope,
    utf8_valid, ? AS load_id
FROM keyed
