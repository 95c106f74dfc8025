-- The floor: DuckDB reads every line of every dump file once and extracts what billing needs
-- (a count and a quantity sum per source). Nothing can bill faster than parsing the JSON once.
SELECT 'samplehc' AS source, count(*) AS lines,
       sum(TRY_CAST(json_extract_string(j, '$.body.quantity') AS DECIMAL(38, 18))) AS quantity
FROM read_ndjson_objects(? || '/samplehc/**', ignore_errors = true) t(j)
UNION ALL
SELECT 'tula', count(*), sum(TRY_CAST(json_extract_string(j, '$.body.Quantity') AS DECIMAL(38, 18)))
FROM read_ndjson_objects(? || '/tula/**', ignore_errors = true) t(j)
UNION ALL
SELECT 'sequence', count(*), sum(TRY_CAST(json_extract_string(j, '$.body.eventProperties.characters') AS DECIMAL(38, 18)))
FROM read_ndjson_objects(? || '/sequence/**', ignore_errors = true) t(j)
UNION ALL
SELECT 'paygentic', count(*), sum(list_sum(list_transform(
           json_extract_string(j, '$.body.events[*].properties[*].quantity'), lambda q: TRY_CAST(q AS DECIMAL(38, 18)))))
FROM read_ndjson_objects(? || '/paygentic/**', ignore_errors = true) t(j)
