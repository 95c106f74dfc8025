-- The floor: DuckDB reads every line of every dump file once and extracts the fields billing needs
-- (received time, customer, event type, event key, occurred time, quantity), parsing each line once,
-- and reduces them to a count of complete records and a quantity sum per source. Each source is read
-- by DuckDB's NDJSON reader with typed columns, its fastest path, whose memory does not follow the size
-- of a line (`read_ndjson_objects` plus `json_extract` ran out of memory on chunks of multi-MB lines).
WITH samplehc AS (
    SELECT receivedAt, account, headers."idempotency-key" AS event_key, body.eventSlug AS event_type,
           body.quantity AS quantity
    FROM read_json(? || '/samplehc/**', format = 'newline_delimited', ignore_errors = true,
                   maximum_object_size = 268435456,
                   columns = {'receivedAt': 'VARCHAR', 'account': 'VARCHAR',
                              'headers': 'STRUCT("idempotency-key" VARCHAR)',
                              'body': 'STRUCT(eventSlug VARCHAR, occurredAt VARCHAR, quantity VARCHAR)'})
), tula AS (
    SELECT receivedAt, path, body.BillingEventGuid AS event_key, body.EventTypeId AS event_type,
           body.EventDateTime AS occurred, body.Quantity AS quantity
    FROM read_json(? || '/tula/**', format = 'newline_delimited', ignore_errors = true,
                   maximum_object_size = 268435456,
                   columns = {'receivedAt': 'VARCHAR', 'path': 'VARCHAR',
                              'body': 'STRUCT(BillingEventGuid VARCHAR, EventTypeId VARCHAR, EventDateTime VARCHAR, Quantity VARCHAR)'})
), sequence AS (
    SELECT receivedAt, body.customerAlias AS customer, body.customerEventId AS event_key,
           body.eventType AS event_type, body.eventTimestamp AS occurred, body.eventProperties.characters AS quantity
    FROM read_json(? || '/sequence/**', format = 'newline_delimited', ignore_errors = true,
                   maximum_object_size = 268435456,
                   columns = {'receivedAt': 'VARCHAR',
                              'body': 'STRUCT(customerAlias VARCHAR, customerEventId VARCHAR, eventType VARCHAR, eventTimestamp VARCHAR, eventProperties STRUCT(characters VARCHAR))'})
), paygentic AS (
    SELECT receivedAt, e.idempotencyKey AS event_key, e.customerId AS customer, e."timestamp" AS occurred,
           list_transform(e.properties, lambda p: TRY_CAST(p.quantity AS DECIMAL(38, 18))) AS q
    FROM (SELECT receivedAt, unnest(body.events) AS e
          FROM read_json(? || '/paygentic/**', format = 'newline_delimited', ignore_errors = true,
                         maximum_object_size = 268435456,
                         columns = {'receivedAt': 'VARCHAR',
                                    'body': 'STRUCT(events STRUCT(idempotencyKey VARCHAR, customerId VARCHAR, "timestamp" VARCHAR, properties STRUCT(quantity VARCHAR)[])[])'}))
)
SELECT 'samplehc' AS source, count(*) AS records,
       count(*) FILTER (WHERE receivedAt IS NOT NULL AND account IS NOT NULL AND event_type IS NOT NULL) AS complete,
       sum(TRY_CAST(quantity AS DECIMAL(38, 18))) AS quantity FROM samplehc
UNION ALL
SELECT 'tula', count(*), count(*) FILTER (WHERE receivedAt IS NOT NULL AND path IS NOT NULL AND event_key IS NOT NULL
                                           AND event_type IS NOT NULL AND occurred IS NOT NULL),
       sum(TRY_CAST(quantity AS DECIMAL(38, 18))) FROM tula
UNION ALL
SELECT 'sequence', count(*), count(*) FILTER (WHERE receivedAt IS NOT NULL AND customer IS NOT NULL AND event_key IS NOT NULL
                                               AND event_type IS NOT NULL AND occurred IS NOT NULL),
       sum(TRY_CAST(quantity AS DECIMAL(38, 18))) FROM sequence
UNION ALL
SELECT 'paygentic', count(*), count(*) FILTER (WHERE receivedAt IS NOT NULL AND event_key IS NOT NULL AND customer IS NOT NULL
                                                AND occurred IS NOT NULL),
       sum(list_sum(q)) FROM paygentic
