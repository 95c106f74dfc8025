-- The records `invoice_line_records` puts on one invoice ($invoice_id): the first $limit usage lines of
-- each invoice line (metric × unit price) in file order, or all of them when $limit is NULL.
SELECT metric_id, kind, tier, unit_price, record_id, source, source_file, line_number, record_index, property_index,
    quantity, distinct_value, price_source,
    -- an instant Python cannot hold (UTC year 10000, from an offset) is not shown, as in record.py
    CASE WHEN occurred_at BETWEEN TIMESTAMPTZ '0001-01-01 00:00:00+00' AND TIMESTAMPTZ '9999-12-31 23:59:59.999999+00'
        THEN occurred_at END AS occurred_at,
    local_date
FROM invoice_line_records
WHERE invoice_id = $invoice_id
QUALIFY $limit::BIGINT IS NULL OR row_number() OVER (
    PARTITION BY metric_id, kind, tier, unit_price
    ORDER BY source_file, line_number, record_index, property_index) <= $limit::BIGINT
ORDER BY metric_id, kind, tier, unit_price, source_file, line_number, record_index, property_index
