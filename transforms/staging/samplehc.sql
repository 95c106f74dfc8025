-- samplehc: one record per line; body is the seed's `Create billing event` request (additionalProperties: false).
WITH fields AS (
    SELECT *,
        json_type(obj, '$.account') AS account_type,
        json_extract_string(obj, '$.account') AS account,
        list_filter(json_keys(body), lambda k: k NOT IN
            ('eventSlug', 'quantity', 'occurredAt', 'workflowRunId', 'metadata')) AS unknown_keys,
        json_type(body, '$.eventSlug') AS slug_type,
        json_extract_string(body, '$.eventSlug') AS slug,
        json_type(body, '$.quantity') AS quantity_type,
        json_extract_string(body, '$.quantity') AS quantity_text,
        json_type(body, '$.occurredAt') AS occurred_type,
        json_extract_string(body, '$.occurredAt') AS occurred_text,
        json_type(body, '$.workflowRunId') AS workflow_type,
        json_type(body, '$.metadata') AS metadata_type,
        header_value(headers, 'idempotency-key') AS idempotency_key
    FROM envelopes
), checked AS (
    SELECT *, coalesce(envelope_problem, CASE
        WHEN account_type IS DISTINCT FROM 'VARCHAR' OR account = '' THEN 'invalid_envelope: samplehc envelope has no account'
        WHEN len(unknown_keys) > 0 THEN 'schema_violation: unknown property ' || unknown_keys[1]
        WHEN slug_type IS NULL THEN 'schema_violation: eventSlug is required'
        WHEN slug_type <> 'VARCHAR' THEN 'schema_violation: eventSlug must be a string'
        WHEN slug = '' THEN 'schema_violation: eventSlug must not be empty'
        WHEN quantity_type IS NULL THEN 'schema_violation: quantity is required'
        WHEN NOT is_json_number(quantity_type) OR fraction_digits(quantity_text) > 0
            THEN 'schema_violation: quantity must be an integer'
        WHEN is_negative(quantity_text) THEN 'schema_violation: quantity must be at least 0'
        WHEN wrong_type(occurred_type, 'VARCHAR') OR (occurred_type IS NOT NULL AND NOT is_instant(occurred_text))
            THEN 'schema_violation: occurredAt must be an RFC 3339 date-time'
        WHEN wrong_type(workflow_type, 'VARCHAR') THEN 'schema_violation: workflowRunId must be a string'
        WHEN wrong_type(metadata_type, 'OBJECT') THEN 'schema_violation: metadata must be an object'
        WHEN to_amount(quantity_text) IS NULL THEN 'invalid_value: quantity does not fit DECIMAL(38, 18)'
    END) AS problem
    FROM fields
)
SELECT
    source_file, line_number, received_at, received_at_text, problem, vendor_rejected,
    coalesce(json_extract_string(response_body, '$.idempotentReplay') = 'true', false) AS replay,
    CASE WHEN idempotency_key IS NOT NULL THEN json_array(account, idempotency_key)::VARCHAR END AS dedup_key,
    account AS customer_key,
    slug AS event_type,
    to_amount(quantity_text) AS quantity,
    coalesce(to_instant(occurred_text), received_at) AS occurred_at
FROM checked
