-- samplehc: one record per line; body is the seed's `Create billing event` request (additionalProperties: false).
WITH parsed AS (
    SELECT *,
        json_type(body, ['$.eventSlug', '$.quantity', '$.occurredAt', '$.workflowRunId', '$.metadata']) AS types,
        json_extract_string(body, ['$.eventSlug', '$.quantity', '$.occurredAt']) AS texts,
        list_filter(json_keys(body), lambda k: k NOT IN
            ('eventSlug', 'quantity', 'occurredAt', 'workflowRunId', 'metadata')) AS unknown_keys,
        header_value(headers, 'idempotency-key') AS idempotency_key
    FROM envelopes
), fields AS (
    SELECT *,
        types[1] AS slug_type,          texts[1] AS slug,
        types[2] AS quantity_type,      texts[2] AS quantity_text,
        types[3] AS occurred_type,      texts[3] AS occurred_text,
        types[4] AS workflow_type,
        types[5] AS metadata_type,
        to_amount(texts[2]) AS quantity,
        to_instant(texts[3]) AS occurred_at
    FROM parsed
), checked AS (
    SELECT *, coalesce(envelope_problem, CASE
        WHEN account_type IS DISTINCT FROM 'VARCHAR' OR account = '' THEN 'invalid_envelope: samplehc envelope has no account'
        WHEN len(unknown_keys) > 0 THEN 'schema_violation: unknown property ' || unknown_keys[1]
        WHEN slug_type IS NULL THEN 'schema_violation: eventSlug is required'
        WHEN slug_type <> 'VARCHAR' THEN 'schema_violation: eventSlug must be a string'
        WHEN slug = '' THEN 'schema_violation: eventSlug must not be empty'
        WHEN quantity_type IS NULL THEN 'schema_violation: quantity is required'
        WHEN NOT is_json_number(quantity_type) OR fraction_digits(quantity_text) > 0
                OR list_contains(non_integer_paths, '$.body.quantity')
            THEN 'schema_violation: quantity must be an integer'
        WHEN is_negative(quantity_text) THEN 'schema_violation: quantity must be at least 0'
        WHEN wrong_type(occurred_type, 'VARCHAR') OR (occurred_type IS NOT NULL AND occurred_at IS NULL)
            THEN 'schema_violation: occurredAt must be an RFC 3339 date-time'
        WHEN wrong_type(workflow_type, 'VARCHAR') THEN 'schema_violation: workflowRunId must be a string'
        WHEN wrong_type(metadata_type, 'OBJECT') THEN 'schema_violation: metadata must be an object'
        WHEN body_number_problem IS NOT NULL THEN body_number_problem
        WHEN quantity IS NULL THEN 'invalid_value: quantity does not fit DECIMAL(38, 18)'
    END) AS problem
    FROM fields
)
SELECT
    source_file, line_number, received_at, received_at_text, problem, vendor_rejected,
    coalesce(json_extract_string(response_body, '$.idempotentReplay') = 'true', false) AS replay,
    CASE WHEN idempotency_key IS NOT NULL THEN json_array(account, idempotency_key)::VARCHAR END AS dedup_key,
    account AS customer_key,
    slug AS event_type,
    quantity,
    coalesce(occurred_at, received_at) AS occurred_at
FROM checked
