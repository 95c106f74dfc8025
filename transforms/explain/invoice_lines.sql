-- The lines of one invoice ($invoice_id), each checked against the records `invoice_line_records` puts
-- on it: the meter's aggregate over their usage lines recomputed, the distinct records counted, and how
-- they were priced. A line a price row rates (SPEC §8) gets every record of the month's aggregate: its
-- recomputed quantity is the month's, which its tiers split.
SELECT l.metric_id, l.aggregation, l.unit_price, l.quantity, l.amount, l.currency, l.event_count,
    l.kind, l.tier, l.price_model, l.description,
    count(r.record_id) AS usage_lines,
    count(DISTINCT r.record_id) AS records,
    CASE l.aggregation
        WHEN 'max' THEN max(r.quantity)
        WHEN 'unique_count' THEN count(DISTINCT r.distinct_value)
        ELSE sum(r.quantity)
    END::DECIMAL(38, 18) AS recomputed_quantity,
    coalesce(list(DISTINCT r.price_source ORDER BY r.price_source) FILTER (WHERE r.price_source IS NOT NULL),
             []) AS price_sources
FROM invoice_lines l
LEFT JOIN invoice_line_records r
    ON r.invoice_id = $invoice_id AND r.metric_id = l.metric_id AND r.kind = l.kind
    AND r.tier IS NOT DISTINCT FROM l.tier AND r.price_model = l.price_model
    AND (l.price_model <> 'per_unit' OR r.unit_price = l.unit_price)
WHERE l.invoice_id = $invoice_id
GROUP BY l.metric_id, l.aggregation, l.unit_price, l.quantity, l.amount, l.currency, l.event_count,
    l.kind, l.tier, l.price_model, l.description
ORDER BY l.metric_id, l.kind DESC, l.tier, l.unit_price
