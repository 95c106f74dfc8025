-- sequence: one record per line; body is the seed's create-usage-event request. Response-model fields
-- (`id`, `sequenceAccountId`) and other unknown properties are allowed.
WITH parsed AS (
    SELECT *,
        json_type(body,
            ['$.customerAlias', '$.eventType', '$.customerEventId', '$.eventTimestamp', '$.eventProperties']) AS types,
        json_extract_string(body,
            ['$.customerAlias', '$.eventType', '$.customerEventId', '$.eventTimestamp', '$.eventProperties']) AS texts
    FROM envelopes
), fields AS (
    SELECT *,
        types[1] AS alias_type,         texts[1] AS alias,
        types[2] AS type_type,          texts[2] AS event_type,
        types[3] AS event_id_type,      texts[3] AS event_id,
        types[4] AS timestamp_type,     texts[4] AS timestamp_text,
        types[5] AS properties_type,    texts[5] AS properties_text,
        to_instant(texts[4]) AS event_timestamp
    FROM parsed
), checked AS (
    SELECT *, coalesce(envelope_problem, CASE
        WHEN alias_type IS NULL THEN 'schema_violation: customerAlias is required'
        WHEN alias_type <> 'VARCHAR' THEN 'schema_violation: customerAlias must be a string'
        WHEN type_type IS NULL THEN 'schema_violation: eventType is required'
        WHEN type_type <> 'VARCHAR' THEN 'schema_violation: eventType must be a string'
        WHEN wrong_type(event_id_type, 'VARCHAR') THEN 'schema_violation: customerEventId must be a string'
        WHEN wrong_type(timestamp_type, 'VARCHAR') THEN 'schema_violation: eventTimestamp must be a string'
        WHEN wrong_type(properties_type, 'OBJECT') THEN 'schema_violation: eventProperties must be an object'
        WHEN timestamp_type IS NOT NULL AND event_timestamp IS NULL
            THEN 'invalid_value: eventTimestamp is not an RFC 3339 instant'
        WHEN body_number_problem IS NOT NULL THEN body_number_problem
    END) AS problem
    FROM fields
)
SELECT
    source_file, line_number, received_at, received_at_text, problem, vendor_rejected,
    CASE WHEN event_id IS NOT NULL THEN json_array(json_text(account_type, account)::JSON, event_id)::VARCHAR END AS version_key,
    received_at AS version_at,
    sub_microseconds(received_at_text) AS version_sub_us,
    coalesce(alias = 'VOID', false) AS void_requested,
    alias AS customer_key,
    event_type,
    coalesce(json_text(properties_type, properties_text), '{}') AS properties,
    coalesce(event_timestamp, received_at) AS occurred_at
FROM checked
