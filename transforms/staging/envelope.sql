-- The envelope rules every source shares (SPEC §2 steps 1–2 and the captured response).
-- Input: `raw_batch` (raw lines to stage), `non_strict_json` (lines DuckDB's lenient parser accepts
-- but strict JSON does not) and `inexact_numbers` (per line, the paths of the numbers DuckDB reads as
-- another value, and of those of them that are short non-integers). Output: one row per raw line.
-- `body`, `headers` and `response_body` are JSON text, set only when they are objects; `account` and
-- `path` are json_extract_string texts, with their JSON types. A JSON function given a list of paths
-- parses the line once for all of them.
WITH typed AS (
    SELECT r.source_file, r.line_number, r.envelope AS line, r.utf8_valid, coalesce(i.paths, []) AS inexact_paths,
        coalesce(i.non_integers, []) AS non_integer_paths,
        -- NULL for a line that is not JSON (`json_ok`, see common._stage_batch). Not TRY(json_type(…)): on a
        -- vector holding one such line TRY evaluates the vector's 2,048 lines one by one, and at realistic
        -- rates of bad lines most vectors hold one (0.32 s against 0.19 s for 16 MB of samplehc's lines).
        -- Nor a json_valid guard here: every JSON function keeps its own parse arena, and a 20 MB line
        -- then needed more than 512MB.
        CASE WHEN r.utf8_valid AND r.json_ok AND n.line_number IS NULL THEN json_type(r.envelope,
            ['$', '$.receivedAt', '$.body', '$.headers', '$.response', '$.response.status', '$.response.body',
             '$.account', '$.path']) END AS types
    FROM raw_batch r
    LEFT JOIN non_strict_json n USING (source_file, line_number)
    LEFT JOIN inexact_numbers i USING (source_file, line_number)
), parsed AS (
    SELECT source_file, line_number, utf8_valid, inexact_paths, non_integer_paths, types,
        CASE WHEN types[1] = 'OBJECT' THEN json_extract_string(line,
            ['$.receivedAt', '$.body', '$.headers', '$.response.status', '$.response.body', '$.account', '$.path']) END AS texts
    FROM typed
), fields AS (
    SELECT source_file, line_number, utf8_valid, inexact_paths, non_integer_paths,
        types[1] AS top_type,
        types[2] AS received_at_type,   texts[1] AS received_at_text,
        types[3] AS body_type,          texts[2] AS body_text,
        types[4] AS headers_type,       texts[3] AS headers_text,
        types[5] AS response_type,
        types[6] AS status_type,        texts[4] AS status_text,
        types[7] AS response_body_type, texts[5] AS response_body_text,
        types[8] AS account_type,       texts[6] AS account,
        types[9] AS path_type,          texts[7] AS path,
        to_instant(texts[1]) AS received_at
    FROM parsed
)
SELECT
    source_file,
    line_number,
    received_at_text,
    received_at,
    CASE WHEN body_type = 'OBJECT' THEN body_text END AS body,
    CASE WHEN headers_type = 'OBJECT' THEN headers_text END AS headers,
    CASE WHEN response_type = 'OBJECT' THEN TRY_CAST(status_text AS INTEGER) END AS response_status,
    CASE WHEN response_body_type = 'OBJECT' THEN response_body_text END AS response_body,
    account_type,
    account,
    path_type,
    path,
    inexact_paths,
    non_integer_paths,
    -- The value problem of a one-record line whose body holds a number DuckDB reads as another value.
    inexact_number_problem(inexact_paths, '$.body') AS body_number_problem,
    -- Every vendor documents 4xx/5xx as "not recorded"; paygentic adds its per-event `failed` list.
    coalesce(response_status >= 400, false) AS vendor_rejected,
    CASE
        WHEN NOT utf8_valid THEN 'invalid_json: the line is not valid UTF-8'
        WHEN top_type IS NULL THEN 'invalid_json: the line is not JSON'
        WHEN top_type <> 'OBJECT' THEN 'invalid_json: the line is JSON but not an object'
        WHEN received_at_type IS NULL THEN 'invalid_envelope: receivedAt is missing'
        WHEN received_at_type <> 'VARCHAR' OR received_at IS NULL
            THEN 'invalid_envelope: receivedAt is not an RFC 3339 instant'
        WHEN body_type IS NULL THEN 'invalid_envelope: body is missing'
        WHEN body_type <> 'OBJECT' THEN 'invalid_envelope: body is not an object'
        WHEN headers_type NOT IN ('OBJECT', 'NULL') THEN 'invalid_envelope: headers is not an object'
        WHEN response_type NOT IN ('OBJECT', 'NULL')
            OR (response_type = 'OBJECT' AND coalesce(status_type NOT IN ('UBIGINT', 'BIGINT'), true))
            THEN 'invalid_envelope: response is not {"status": integer, "body": ...}'
    END AS envelope_problem
FROM fields
