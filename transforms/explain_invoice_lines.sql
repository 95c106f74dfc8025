-- The lines of one invoice, each with its billed usage recomputed from `usage_events`: the meter's
-- aggregate over the usage lines, the distinct records behind it, and how they were priced.
WITH this AS (
    SELECT ? AS invoice_id
), billed AS (
    SELECT u.metric_id, u.unit_price, u.record_id, u.quantity, u.distinct_value, u.price_source
    FROM usage_events u, this t
    WHERE u.invoice_id = t.invoice_id AND u.outcome = 'billed'
)
SELECT
    l.metric_id, l.aggregation, l.unit_price, l.quantity, l.amount, l.currency, l.event_count,
    count(b.record_id) AS usage_lines,
    count(DISTINCT b.record_id) AS records,
    CASE l.aggregation
        WHEN 'max' THEN max(b.quantity)
        WHEN 'unique_count' THEN count(DISTINCT b.distinct_value)
        ELSE sum(b.quantity)
    END::DECIMAL(38, 18) AS recomputed_quantity,
    coalesce(list(DISTINCT b.price_source ORDER BY b.price_source) FILTER (WHERE b.price_source IS NOT NULL),
             []) AS price_sources
FROM invoice_lines l
JOIN this t ON l.invoice_id = t.invoice_id
LEFT JOIN billed b ON b.metric_id = l.metric_id AND b.unit_price = l.unit_price
GROUP BY l.metric_id, l.aggregation, l.unit_price, l.quantity, l.amount, l.currency, l.event_count
ORDER BY l.metric_id, l.unit_price
