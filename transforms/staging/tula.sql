-- tula: one record per line. Property names are case-insensitive (ASP.NET binding); when a body spells
-- one twice, the last wins. `fields` rebuilds the body with lower-case names before the checks.
WITH members AS (
    SELECT e.source_file, e.line_number, lower(m.key) AS name, arg_max(m.value, m.id) AS value
    FROM envelopes e, json_each(e.body) m
    WHERE e.envelope_problem IS NULL
    GROUP BY ALL
), bodies AS (
    SELECT source_file, line_number, json_group_object(name, value) AS tbody
    FROM members GROUP BY ALL
), fields AS (
    SELECT e.*,
        json_type(obj, '$.path') AS path_type,
        regexp_extract(split_part(json_extract_string(obj, '$.path'), '?', 1),
                       '^/api/v1/BillingEvents/([^/]+)$', 1) AS client_segment,
        json_type(b.tbody, '$.billingeventguid') AS guid_type,
        json_extract_string(b.tbody, '$.billingeventguid') AS guid,
        json_type(b.tbody, '$.eventdatetime') AS event_time_type,
        json_extract_string(b.tbody, '$.eventdatetime') AS event_time_text,
        json_type(b.tbody, '$.eventtypeid') AS type_type,
        json_extract_string(b.tbody, '$.eventtypeid') AS event_type,
        json_type(b.tbody, '$.quantity') AS quantity_type,
        json_extract_string(b.tbody, '$.quantity') AS quantity_text,
        json_type(b.tbody, '$.price') AS price_type,
        json_extract_string(b.tbody, '$.price') AS price_text,
        json_type(b.tbody, '$.modifieddatetime') AS modified_type,
        json_extract_string(b.tbody, '$.modifieddatetime') AS modified_text,
        json_type(b.tbody, '$.invoicebillingeventstatusid') AS status_type,
        json_extract_string(b.tbody, '$.invoicebillingeventstatusid') AS status_name,
        json_type(b.tbody, '$.memberuniquekey') AS member_type,
        json_extract_string(b.tbody, '$.memberuniquekey') AS member
    FROM envelopes e
    LEFT JOIN bodies b USING (source_file, line_number)
), checked AS (
    SELECT *, url_decode(client_segment) AS client_name, coalesce(envelope_problem, CASE
        WHEN path_type IS DISTINCT FROM 'VARCHAR' OR coalesce(client_segment, '') = ''
            THEN 'invalid_envelope: path is not /api/v1/BillingEvents/{clientName}'
        WHEN guid_type IS NULL THEN 'schema_violation: billingEventGuid is required'
        WHEN guid_type <> 'VARCHAR' OR NOT regexp_full_match(guid,
                '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}')
            THEN 'schema_violation: billingEventGuid must be a GUID'
        WHEN event_time_type IS NULL THEN 'schema_violation: eventDateTime is required'
        WHEN event_time_type <> 'VARCHAR' OR NOT is_tula_instant(event_time_text)
            THEN 'schema_violation: eventDateTime must be a date-time'
        WHEN type_type IS NULL THEN 'schema_violation: eventTypeId is required'
        WHEN type_type <> 'VARCHAR' OR event_type = '' THEN 'schema_violation: eventTypeId must be an enum name'
        WHEN quantity_type IS NULL THEN 'schema_violation: quantity is required'
        WHEN NOT is_json_number(quantity_type) THEN 'schema_violation: quantity must be a number'
        WHEN price_type IS NOT NULL AND NOT is_json_number(price_type) THEN 'schema_violation: price must be a number'
        WHEN wrong_type(modified_type, 'VARCHAR') OR (modified_type IS NOT NULL AND NOT is_tula_instant(modified_text))
            THEN 'schema_violation: modifiedDateTime must be a date-time'
        WHEN wrong_type(status_type, 'VARCHAR') OR status_name = ''
            THEN 'schema_violation: invoiceBillingEventStatusId must be an enum name'
        WHEN wrong_type(member_type, 'VARCHAR') THEN 'schema_violation: memberUniqueKey must be a string'
        WHEN is_negative(quantity_text) THEN 'invalid_value: quantity is negative'
        WHEN is_negative(price_text) THEN 'invalid_value: price is negative'
        WHEN to_amount(quantity_text) IS NULL THEN 'invalid_value: quantity does not fit DECIMAL(38, 18)'
        WHEN price_text IS NOT NULL AND to_amount(price_text) IS NULL THEN 'invalid_value: price does not fit DECIMAL(38, 18)'
    END) AS problem
    FROM fields
)
SELECT
    source_file, line_number, received_at, received_at_text, problem, vendor_rejected,
    json_array(client_name, lower(guid))::VARCHAR AS version_key,
    coalesce(to_tula_instant(modified_text), received_at) AS version_at,
    sub_microseconds(coalesce(modified_text, received_at_text)) AS version_sub_us,
    coalesce(status_name, 'Unknown') AS status,
    client_name AS customer_key,
    member,
    event_type,
    to_amount(quantity_text) AS quantity,
    to_amount(price_text) AS unit_price,
    to_tula_instant(event_time_text) AS occurred_at
FROM checked
