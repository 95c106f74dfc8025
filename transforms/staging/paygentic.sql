-- paygentic: `body.events` is a batch; each event is a record and each of its properties a usage line.
-- A line that cannot be split into events is one record, without an event. An event with any bad
-- property is quarantined whole (schema problems before value problems); its siblings go on.
-- Memory: an event row carries only its own JSON and the line's few narrow columns, never the line's
-- body or envelope (a 20 MB line of 1000 events copied onto each event needed 20 GB), and the event
-- JSON is dropped before properties are unnested.
WITH lines AS MATERIALIZED (
    -- Materialized so that the envelope's JSON parses have ended, and freed their buffers, before the
    -- body is parsed again: each JSON function keeps a parse buffer of several times the largest line.
    SELECT source_file, line_number, received_at, received_at_text, vendor_rejected, envelope_problem, inexact_paths, body,
        response_status, response_body
    FROM envelopes
), batches AS (
    SELECT source_file, line_number, received_at, received_at_text, vendor_rejected, envelope_problem, inexact_paths,
        CASE WHEN envelope_problem IS NULL THEN json_extract(body, '$.events[*]') END AS events,
        -- A `failed` index names an event only when it is a JSON number equal to an integer (1 and 1.0
        -- name event 1); 0.6, "1", -1, null, or 3.000000000000000001 (read as 3.0) name none.
        CASE WHEN response_status IN (201, 207) THEN list_transform(list_filter(list_transform(
            json_extract(response_body, '$.failed[*]'), lambda f, k: CASE WHEN is_json_number(json_type(f, '$.index'))
                AND NOT list_contains(inexact_paths, '$.response.body.failed[' || (k - 1) || '].index')
                THEN TRY_CAST(json_extract(f, '$.index')::VARCHAR AS DECIMAL(38, 18)) END),
            lambda v: v >= 0 AND v = floor(v)), lambda v: v::BIGINT) END AS failed_indexes
    FROM lines
), records AS MATERIALIZED (
    -- Materialized so that the per-event work below runs on every thread: a scan gives each thread
    -- whole row groups (122,880 lines), and batches are few lines holding many events.
    SELECT source_file, line_number, received_at, received_at_text, vendor_rejected, inexact_paths, len(events) AS batch_size,
        failed_indexes,
        unnest(records) AS event, generate_subscripts(records, 1) - 1 AS record_index,
        coalesce(envelope_problem,
                 CASE WHEN len(events) = 0 THEN 'schema_violation: body.events must be a non-empty array' END) AS line_problem
    FROM (SELECT *, CASE WHEN len(events) > 0 THEN events ELSE [NULL] END AS records FROM batches)
), parsed AS (
    SELECT * EXCLUDE (event), event IS NOT NULL AS has_event,
        json_type(event, ['$', '$.idempotencyKey', '$.customerId', '$.merchantId', '$.timestamp',
                          '$.properties', '$.entitlementId', '$.metadata']) AS types,
        json_extract_string(event, ['$.idempotencyKey', '$.customerId', '$.merchantId', '$.timestamp']) AS texts,
        list_transform(json_extract(event, '$.properties[*]'), lambda p: {
            'types': json_type(p, ['$', '$.billableMetricId', '$.quantity', '$.price']),
            'texts': json_extract_string(p, ['$.billableMetricId', '$.quantity', '$.price'])}) AS properties
    FROM records
), event_fields AS (
    SELECT *,
        types[1] AS event_json_type,
        types[2] AS key_type,           texts[1] AS idempotency_key,
        types[3] AS customer_type,      texts[2] AS customer_id,
        types[4] AS merchant_type,      texts[3] AS merchant_id,
        types[5] AS timestamp_type,     texts[4] AS timestamp_text,
        types[6] AS properties_type,
        types[7] AS entitlement_type,
        types[8] AS metadata_type,
        to_instant(texts[4]) AS occurred_at,
        list_transform(properties, lambda p, i: {
            'metric_id': p.texts[1],
            'quantity': to_amount(p.texts[2]),
            'unit_price': to_amount(p.texts[3]),
            'problem': CASE
                WHEN p.types[1] <> 'OBJECT' THEN 'schema_violation: property ' || (i - 1) || ' is not an object'
                WHEN p.types[2] IS DISTINCT FROM 'VARCHAR' THEN 'schema_violation: property ' || (i - 1) || ' billableMetricId must be a string'
                WHEN NOT is_json_number(p.types[3]) THEN 'schema_violation: property ' || (i - 1) || ' quantity must be a number'
                WHEN wrong_type(p.types[4], 'VARCHAR') THEN 'schema_violation: property ' || (i - 1) || ' price must be a string'
                WHEN is_negative(p.texts[2]) THEN 'invalid_value: property ' || (i - 1) || ' quantity is negative'
                WHEN to_amount(p.texts[2]) IS NULL THEN 'invalid_value: property ' || (i - 1) || ' quantity does not fit DECIMAL(38, 18)'
                WHEN p.texts[3] IS NOT NULL AND NOT is_plain_decimal(p.texts[3]) THEN 'invalid_value: property ' || (i - 1) || ' price is not a plain decimal'
                WHEN is_negative(p.texts[3]) THEN 'invalid_value: property ' || (i - 1) || ' price is negative'
                WHEN p.texts[3] IS NOT NULL AND to_amount(p.texts[3]) IS NULL THEN 'invalid_value: property ' || (i - 1) || ' price does not fit DECIMAL(38, 18)'
            END}) AS property_lines
    FROM parsed
), event_checks AS (
    SELECT *, coalesce(line_problem, CASE
        WHEN batch_size > 1000 THEN 'schema_violation: a batch holds at most 1000 events'
        WHEN event_json_type <> 'OBJECT' THEN 'schema_violation: event is not an object'
        WHEN key_type IS DISTINCT FROM 'VARCHAR' THEN 'schema_violation: idempotencyKey must be a string'
        WHEN customer_type IS DISTINCT FROM 'VARCHAR' THEN 'schema_violation: customerId must be a string'
        WHEN merchant_type IS DISTINCT FROM 'VARCHAR' THEN 'schema_violation: merchantId must be a string'
        WHEN timestamp_type IS DISTINCT FROM 'VARCHAR' OR occurred_at IS NULL
            THEN 'schema_violation: timestamp must be an RFC 3339 date-time'
        WHEN properties_type IS DISTINCT FROM 'ARRAY' OR len(properties) = 0
            THEN 'schema_violation: properties must be a non-empty array'
        WHEN wrong_type(entitlement_type, 'VARCHAR') THEN 'schema_violation: entitlementId must be a string'
        WHEN wrong_type(metadata_type, 'OBJECT') THEN 'schema_violation: metadata must be an object'
    END,
        list_filter(property_lines, lambda p: starts_with(p.problem, 'schema_violation'))[1].problem,
        inexact_number_problem(inexact_paths, '$.body.events[' || record_index || ']'),
        list_filter(property_lines, lambda p: p.problem IS NOT NULL)[1].problem) AS problem
    FROM event_fields
), usage_lines AS (
    -- A quarantined record is one usage line, without a property.
    SELECT *, unnest(lines) AS line, generate_subscripts(lines, 1) - 1 AS property_index
    FROM (SELECT *, CASE WHEN problem IS NULL THEN property_lines ELSE [NULL] END AS lines FROM event_checks)
)
SELECT
    source_file, line_number, record_index, property_index, received_at, received_at_text, problem,
    vendor_rejected OR coalesce(has_event AND list_contains(failed_indexes, record_index), false) AS vendor_rejected,
    CASE WHEN has_event THEN json_array(merchant_id, idempotency_key)::VARCHAR END AS dedup_key,
    customer_id AS customer_key,
    line.metric_id AS event_type,
    line.quantity,
    line.unit_price,
    occurred_at
FROM usage_lines
