-- The billed usage lines of one invoice: the first `limit` of each invoice line (metric × unit price) in
-- file order, or all of them when `limit` is NULL.
WITH this AS (
    SELECT ? AS invoice_id, ?::BIGINT AS "limit"
)
SELECT u.metric_id, u.unit_price, u.record_id, u.source, u.source_file, u.line_number, u.record_index,
    u.property_index, u.quantity, u.distinct_value, u.price_source, u.occurred_at, u.local_date
FROM usage_events u, this t
WHERE u.invoice_id = t.invoice_id AND u.outcome = 'billed'
QUALIFY t."limit" IS NULL OR row_number() OVER (
    PARTITION BY u.metric_id, u.unit_price
    ORDER BY u.source_file, u.line_number, u.record_index, u.property_index) <= t."limit"
ORDER BY u.metric_id, u.unit_price, u.source_file, u.line_number, u.record_index, u.property_index
