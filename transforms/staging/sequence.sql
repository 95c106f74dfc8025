-- sequence: one record per line; body is the seed's create-usage-event request. Response-model fields
-- (`id`, `sequenceAccountId`) and other unknown properties are allowed.
WITH fields AS (
    SELECT *,
        json_type(body, '$.customerAlias') AS alias_type,
        json_extract_string(body, '$.customerAlias') AS alias,
        json_type(body, '$.eventType') AS type_type,
        json_extract_string(body, '$.eventType') AS event_type,
        json_type(body, '$.customerEventId') AS event_id_type,
        json_extract_string(body, '$.customerEventId') AS event_id,
        json_type(body, '$.eventTimestamp') AS timestamp_type,
        json_extract_string(body, '$.eventTimestamp') AS timestamp_text,
        json_type(body, '$.eventProperties') AS properties_type
    FROM envelopes
), checked AS (
    SELECT *, coalesce(envelope_problem, CASE
        WHEN alias_type IS NULL THEN 'schema_violation: customerAlias is required'
        WHEN alias_type <> 'VARCHAR' THEN 'schema_violation: customerAlias must be a string'
        WHEN type_type IS NULL THEN 'schema_violation: eventType is required'
        WHEN type_type <> 'VARCHAR' THEN 'schema_violation: eventType must be a string'
        WHEN wrong_type(event_id_type, 'VARCHAR') THEN 'schema_violation: customerEventId must be a string'
        WHEN wrong_type(timestamp_type, 'VARCHAR') THEN 'schema_violation: eventTimestamp must be a string'
        WHEN wrong_type(properties_type, 'OBJECT') THEN 'schema_violation: eventProperties must be an object'
        WHEN timestamp_type IS NOT NULL AND NOT is_instant(timestamp_text)
            THEN 'invalid_value: eventTimestamp is not an RFC 3339 instant'
    END) AS problem
    FROM fields
)
SELECT
    source_file, line_number, received_at, received_at_text, problem, vendor_rejected,
    CASE WHEN event_id IS NOT NULL THEN json_array(json_extract(obj, '$.account'), event_id)::VARCHAR END AS version_key,
    received_at AS version_at,
    sub_microseconds(received_at_text) AS version_sub_us,
    coalesce(alias = 'VOID', false) AS void_requested,
    alias AS customer_key,
    event_type,
    coalesce(json_extract(body, '$.eventProperties'), '{}')::VARCHAR AS properties,
    coalesce(to_instant(timestamp_text), received_at) AS occurred_at
FROM checked
