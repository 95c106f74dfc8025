-- The floor: DuckDB reads every line of every dump file once and extracts the fields billing needs
-- (received time, customer, event type, event key, occurred time, quantity), parsing each line once,
-- and reduces them to a count of complete records and a quantity sum per source.
WITH samplehc AS (
    SELECT json_extract_string(j, ['$.receivedAt', '$.account', '$.headers.idempotency-key', '$.body.eventSlug',
                                   '$.body.occurredAt', '$.body.quantity']) AS f
    FROM read_ndjson_objects(? || '/samplehc/**', ignore_errors = true) t(j)
), tula AS (
    SELECT json_extract_string(j, ['$.receivedAt', '$.path', '$.body.BillingEventGuid', '$.body.EventTypeId',
                                   '$.body.EventDateTime', '$.body.Quantity']) AS f
    FROM read_ndjson_objects(? || '/tula/**', ignore_errors = true) t(j)
), sequence AS (
    SELECT json_extract_string(j, ['$.receivedAt', '$.body.customerAlias', '$.body.customerEventId',
                                   '$.body.eventType', '$.body.eventTimestamp', '$.body.eventProperties.characters']) AS f
    FROM read_ndjson_objects(? || '/sequence/**', ignore_errors = true) t(j)
), paygentic AS (
    SELECT json_extract_string(e, ['$.idempotencyKey', '$.customerId', '$.timestamp']) || [received] AS f,
           json_extract_string(e, '$.properties[*].quantity') AS q
    FROM (SELECT json_extract_string(j, '$.receivedAt') AS received, unnest(json_extract(j, '$.body.events[*]')) AS e
          FROM read_ndjson_objects(? || '/paygentic/**', ignore_errors = true) t(j))
)
SELECT 'samplehc' AS source, count(*) AS records,
       count(*) FILTER (WHERE f[1] IS NOT NULL AND f[2] IS NOT NULL AND f[4] IS NOT NULL) AS complete,
       sum(TRY_CAST(f[6] AS DECIMAL(38, 18))) AS quantity FROM samplehc
UNION ALL
SELECT 'tula', count(*), count(*) FILTER (WHERE f[1] IS NOT NULL AND f[2] IS NOT NULL AND f[3] IS NOT NULL AND f[4] IS NOT NULL AND f[5] IS NOT NULL),
       sum(TRY_CAST(f[6] AS DECIMAL(38, 18))) FROM tula
UNION ALL
SELECT 'sequence', count(*), count(*) FILTER (WHERE f[1] IS NOT NULL AND f[2] IS NOT NULL AND f[3] IS NOT NULL AND f[4] IS NOT NULL AND f[5] IS NOT NULL),
       sum(TRY_CAST(f[6] AS DECIMAL(38, 18))) FROM sequence
UNION ALL
SELECT 'paygentic', count(*), count(*) FILTER (WHERE f[1] IS NOT NULL AND f[2] IS NOT NULL AND f[3] IS NOT NULL AND f[4] IS NOT NULL),
       sum(list_sum(list_transform(q, lambda x: TRY_CAST(x AS DECIMAL(38, 18))))) FROM paygentic
