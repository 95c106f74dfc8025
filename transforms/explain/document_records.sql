-- The records behind the lines of one document ($number): the first $limit of each line in file order
-- (all when $limit is NULL), with the line's count of records.
SELECT metric_id, kind, tier, unit_price, change,
    source_file || ':' || line_number || ':' || record_index AS record_id,
    count(*) OVER (PARTITION BY metric_id, kind, tier, unit_price) AS line_records
FROM document_line_records
WHERE document_number = $number
QUALIFY $limit::BIGINT IS NULL OR row_number() OVER (
    PARTITION BY metric_id, kind, tier, unit_price ORDER BY source_file, line_number, record_index, change) <= $limit::BIGINT
ORDER BY metric_id, kind, tier, unit_price, source_file, line_number, record_index, change
