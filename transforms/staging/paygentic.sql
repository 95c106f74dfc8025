-- paygentic: `body.events` is a batch; each event is a record and each of its properties a usage line.
-- A line that cannot be split into events is one record. An event with any bad property is
-- quarantined whole (schema problems before value problems); its siblings go on.
WITH batches AS (
    SELECT *,
        CASE WHEN json_type(body, '$.events') = 'ARRAY' THEN json_array_length(body, '$.events') END AS batch_size,
        CASE WHEN response_status IN (201, 207) THEN list_transform(
            json_extract(response_body, '$.failed[*].index'), lambda i: TRY_CAST(i::VARCHAR AS INTEGER)) END AS failed_indexes
    FROM envelopes
), events AS (
    SELECT b.*, e.key::INTEGER AS record_index, e.value AS event, e.type AS event_json_type
    FROM batches b, json_each(b.body, '$.events') e
    WHERE b.envelope_problem IS NULL AND b.batch_size > 0
), event_fields AS (
    SELECT *,
        json_type(event, '$.idempotencyKey') AS key_type,
        json_extract_string(event, '$.idempotencyKey') AS idempotency_key,
        json_type(event, '$.customerId') AS customer_type,
        json_extract_string(event, '$.customerId') AS customer_id,
        json_type(event, '$.merchantId') AS merchant_type,
        json_extract_string(event, '$.merchantId') AS merchant_id,
        json_type(event, '$.timestamp') AS timestamp_type,
        json_extract_string(event, '$.timestamp') AS timestamp_text,
        json_type(event, '$.properties') AS properties_type,
        json_type(event, '$.entitlementId') AS entitlement_type,
        json_type(event, '$.metadata') AS metadata_type
    FROM events
), properties AS (
    SELECT f.source_file, f.line_number, f.record_index, p.key::INTEGER AS property_index, p.type AS property_json_type,
        json_type(p.value, '$.billableMetricId') AS metric_type,
        json_extract_string(p.value, '$.billableMetricId') AS metric_id,
        json_type(p.value, '$.quantity') AS quantity_type,
        json_extract_string(p.value, '$.quantity') AS quantity_text,
        json_type(p.value, '$.price') AS price_type,
        json_extract_string(p.value, '$.price') AS price_text
    FROM event_fields f, json_each(f.event, '$.properties') p
    WHERE f.event_json_type = 'OBJECT' AND f.properties_type = 'ARRAY'
), property_checks AS (
    SELECT *, CASE
        WHEN property_json_type <> 'OBJECT' THEN 'schema_violation: property ' || property_index || ' is not an object'
        WHEN metric_type IS DISTINCT FROM 'VARCHAR' THEN 'schema_violation: property ' || property_index || ' billableMetricId must be a string'
        WHEN NOT is_json_number(quantity_type) THEN 'schema_violation: property ' || property_index || ' quantity must be a number'
        WHEN wrong_type(price_type, 'VARCHAR') THEN 'schema_violation: property ' || property_index || ' price must be a string'
        WHEN is_negative(quantity_text) THEN 'invalid_value: property ' || property_index || ' quantity is negative'
        WHEN to_amount(quantity_text) IS NULL THEN 'invalid_value: property ' || property_index || ' quantity does not fit DECIMAL(38, 18)'
        WHEN price_text IS NOT NULL AND NOT is_plain_decimal(price_text) THEN 'invalid_value: property ' || property_index || ' price is not a plain decimal'
        WHEN is_negative(price_text) THEN 'invalid_value: property ' || property_index || ' price is negative'
        WHEN price_text IS NOT NULL AND to_amount(price_text) IS NULL THEN 'invalid_value: property ' || property_index || ' price does not fit DECIMAL(38, 18)'
    END AS property_problem
    FROM properties
), property_problems AS (
    SELECT source_file, line_number, record_index,
        arg_min(property_problem, (starts_with(property_problem, 'invalid_value'), property_index)) AS property_problem
    FROM property_checks WHERE property_problem IS NOT NULL
    GROUP BY ALL
), event_checks AS (
    SELECT f.*, coalesce(CASE
        WHEN batch_size > 1000 THEN 'schema_violation: a batch holds at most 1000 events'
        WHEN event_json_type <> 'OBJECT' THEN 'schema_violation: event is not an object'
        WHEN key_type IS DISTINCT FROM 'VARCHAR' THEN 'schema_violation: idempotencyKey must be a string'
        WHEN customer_type IS DISTINCT FROM 'VARCHAR' THEN 'schema_violation: customerId must be a string'
        WHEN merchant_type IS DISTINCT FROM 'VARCHAR' THEN 'schema_violation: merchantId must be a string'
        WHEN timestamp_type IS DISTINCT FROM 'VARCHAR' OR NOT is_instant(timestamp_text)
            THEN 'schema_violation: timestamp must be an RFC 3339 date-time'
        WHEN properties_type IS DISTINCT FROM 'ARRAY' OR json_array_length(event, '$.properties') = 0
            THEN 'schema_violation: properties must be a non-empty array'
        WHEN wrong_type(entitlement_type, 'VARCHAR') THEN 'schema_violation: entitlementId must be a string'
        WHEN wrong_type(metadata_type, 'OBJECT') THEN 'schema_violation: metadata must be an object'
    END, p.property_problem) AS problem
    FROM event_fields f
    LEFT JOIN property_problems p USING (source_file, line_number, record_index)
), usage_lines AS (
    SELECT e.*, p.property_index, p.metric_id, p.quantity_text, p.price_text
    FROM event_checks e
    JOIN property_checks p USING (source_file, line_number, record_index)
    WHERE e.problem IS NULL
    UNION ALL BY NAME
    SELECT e.*, 0 AS property_index FROM event_checks e WHERE e.problem IS NOT NULL
)
SELECT
    source_file, line_number, record_index, property_index, received_at, received_at_text, problem,
    vendor_rejected OR coalesce(list_contains(failed_indexes, record_index), false) AS vendor_rejected,
    json_array(merchant_id, idempotency_key)::VARCHAR AS dedup_key,
    customer_id AS customer_key,
    metric_id AS event_type,
    to_amount(quantity_text) AS quantity,
    to_amount(price_text) AS unit_price,
    to_instant(timestamp_text) AS occurred_at
FROM usage_lines
UNION ALL BY NAME
SELECT
    source_file, line_number, 0 AS record_index, 0 AS property_index, received_at, received_at_text, vendor_rejected,
    coalesce(envelope_problem, 'schema_violation: body.events must be a non-empty array') AS problem
FROM batches
WHERE envelope_problem IS NOT NULL OR coalesce(batch_size, 0) = 0
