-- tula: one record per line. Property names are case-insensitive (ASP.NET binding); when a body spells
-- one twice, the last wins. `members` lists the body's names (lower case), JSON types and texts, last
-- member first, so that the first position of a name is its last spelling.
WITH members AS (
    SELECT *,
        list_reverse(list_transform(json_keys(valid_body), lambda k: lower(k))) AS names,
        list_reverse(json_type(valid_body, '$.*')) AS types,
        list_reverse(json_extract_string(valid_body, '$.*')) AS texts
    FROM (SELECT *, CASE WHEN envelope_problem IS NULL THEN body END AS valid_body FROM envelopes)
), positions AS (
    SELECT *,
        list_position(names, 'billingeventguid') AS guid_pos,
        list_position(names, 'eventdatetime') AS event_time_pos,
        list_position(names, 'eventtypeid') AS type_pos,
        list_position(names, 'quantity') AS quantity_pos,
        list_position(names, 'price') AS price_pos,
        list_position(names, 'modifieddatetime') AS modified_pos,
        list_position(names, 'invoicebillingeventstatusid') AS status_pos,
        list_position(names, 'memberuniquekey') AS member_pos
    FROM members
), fields AS (
    SELECT *,
        regexp_extract(split_part(path, '?', 1), '^/api/v1/BillingEvents/([^/]+)$', 1) AS client_segment,
        types[guid_pos] AS guid_type,               texts[guid_pos] AS guid,
        types[event_time_pos] AS event_time_type,   texts[event_time_pos] AS event_time_text,
        types[type_pos] AS type_type,               texts[type_pos] AS event_type,
        types[quantity_pos] AS quantity_type,       texts[quantity_pos] AS quantity_text,
        types[price_pos] AS price_type,             texts[price_pos] AS price_text,
        types[modified_pos] AS modified_type,       texts[modified_pos] AS modified_text,
        types[status_pos] AS status_type,           texts[status_pos] AS status_name,
        types[member_pos] AS member_type,           texts[member_pos] AS member,
        to_tula_instant(texts[event_time_pos]) AS event_time,
        to_tula_instant(texts[modified_pos]) AS modified_time,
        to_amount(texts[quantity_pos]) AS quantity,
        to_amount(texts[price_pos]) AS unit_price
    FROM positions
), checked AS (
    SELECT *, try(url_decode(client_segment)) AS client_name, coalesce(envelope_problem, CASE
        WHEN path_type IS DISTINCT FROM 'VARCHAR' OR coalesce(client_segment, '') = ''
            THEN 'invalid_envelope: path is not /api/v1/BillingEvents/{clientName}'
        WHEN try(url_decode(client_segment)) IS NULL
            THEN 'invalid_envelope: the clientName in the path is not valid percent-encoded UTF-8'
        WHEN guid_type IS NULL THEN 'schema_violation: billingEventGuid is required'
        WHEN guid_type <> 'VARCHAR' OR NOT regexp_full_match(guid,
                '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}')
            THEN 'schema_violation: billingEventGuid must be a GUID'
        WHEN event_time_type IS NULL THEN 'schema_violation: eventDateTime is required'
        WHEN event_time_type <> 'VARCHAR' OR event_time IS NULL
            THEN 'schema_violation: eventDateTime must be a date-time'
        WHEN type_type IS NULL THEN 'schema_violation: eventTypeId is required'
        WHEN type_type <> 'VARCHAR' OR event_type = '' THEN 'schema_violation: eventTypeId must be an enum name'
        WHEN quantity_type IS NULL THEN 'schema_violation: quantity is required'
        WHEN NOT is_json_number(quantity_type) THEN 'schema_violation: quantity must be a number'
        WHEN price_type IS NOT NULL AND NOT is_json_number(price_type) THEN 'schema_violation: price must be a number'
        WHEN wrong_type(modified_type, 'VARCHAR') OR (modified_type IS NOT NULL AND modified_time IS NULL)
            THEN 'schema_violation: modifiedDateTime must be a date-time'
        WHEN wrong_type(status_type, 'VARCHAR') OR status_name = ''
            THEN 'schema_violation: invoiceBillingEventStatusId must be an enum name'
        WHEN wrong_type(member_type, 'VARCHAR') THEN 'schema_violation: memberUniqueKey must be a string'
        WHEN body_number_problem IS NOT NULL THEN body_number_problem
        WHEN is_negative(quantity_text) THEN 'invalid_value: quantity is negative'
        WHEN is_negative(price_text) THEN 'invalid_value: price is negative'
        WHEN quantity IS NULL THEN 'invalid_value: quantity does not fit DECIMAL(38, 18)'
        WHEN price_text IS NOT NULL AND unit_price IS NULL THEN 'invalid_value: price does not fit DECIMAL(38, 18)'
    END) AS problem
    FROM fields
)
SELECT
    source_file, line_number, received_at, received_at_text, problem, vendor_rejected,
    json_array(client_name, lower(guid))::VARCHAR AS version_key,
    coalesce(modified_time, received_at) AS version_at,
    sub_microseconds(coalesce(modified_text, received_at_text)) AS version_sub_us,
    coalesce(status_name, 'Unknown') AS status,
    client_name AS customer_key,
    member,
    event_type,
    quantity,
    unit_price,
    event_time AS occurred_at
FROM checked
