-- The envelope rules every source shares (SPEC §2 steps 1–2 and the captured response).
-- Input: `raw_batch` (raw lines to stage) and `non_strict_json` (lines DuckDB's lenient parser accepts
-- but strict JSON does not). Output: one row per raw line.
WITH lines AS (
    SELECT r.source_file, r.line_number, r.envelope AS line, r.utf8_valid,
           CASE WHEN r.utf8_valid AND n.line_number IS NULL AND json_valid(r.envelope)
                THEN json_type(r.envelope) END AS top_type
    FROM raw_batch r
    LEFT JOIN non_strict_json n USING (source_file, line_number)
), fields AS (
    SELECT *,
        json_type(obj, '$.receivedAt') AS received_at_type,
        json_extract_string(obj, '$.receivedAt') AS received_at_text,
        json_type(obj, '$.body') AS body_type,
        json_type(obj, '$.headers') AS headers_type,
        json_type(obj, '$.response') AS response_type,
        json_type(obj, '$.response.status') AS status_type
    FROM (SELECT *, CASE WHEN top_type = 'OBJECT' THEN line::JSON END AS obj FROM lines)
)
SELECT
    source_file,
    line_number,
    obj,
    received_at_text,
    to_instant(received_at_text) AS received_at,
    CASE WHEN body_type = 'OBJECT' THEN json_extract(obj, '$.body') END AS body,
    CASE WHEN headers_type = 'OBJECT' THEN json_extract(obj, '$.headers') END AS headers,
    CASE WHEN response_type = 'OBJECT' THEN TRY_CAST(json_extract_string(obj, '$.response.status') AS INTEGER) END AS response_status,
    CASE WHEN response_type = 'OBJECT' THEN json_extract(obj, '$.response.body') END AS response_body,
    -- Every vendor documents 4xx/5xx as "not recorded"; paygentic adds its per-event `failed` list.
    coalesce(response_status >= 400, false) AS vendor_rejected,
    CASE
        WHEN NOT utf8_valid THEN 'invalid_json: the line is not valid UTF-8'
        WHEN top_type IS NULL THEN 'invalid_json: the line is not JSON'
        WHEN top_type <> 'OBJECT' THEN 'invalid_json: the line is JSON but not an object'
        WHEN received_at_type IS NULL THEN 'invalid_envelope: receivedAt is missing'
        WHEN received_at_type <> 'VARCHAR' OR NOT is_instant(received_at_text)
            THEN 'invalid_envelope: receivedAt is not an RFC 3339 instant'
        WHEN body_type IS NULL THEN 'invalid_envelope: body is missing'
        WHEN body_type <> 'OBJECT' THEN 'invalid_envelope: body is not an object'
        WHEN headers_type NOT IN ('OBJECT', 'NULL') THEN 'invalid_envelope: headers is not an object'
        WHEN response_type NOT IN ('OBJECT', 'NULL')
            OR (response_type = 'OBJECT' AND coalesce(status_type NOT IN ('UBIGINT', 'BIGINT'), true))
            THEN 'invalid_envelope: response is not {"status": integer, "body": ...}'
    END AS envelope_problem
FROM fields
