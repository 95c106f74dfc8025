-- One row per usage line of every record, with the record's outcome and why. `since`: only the lines
-- resolved after that change (0 for all; see transforms.marts.define_view).
SELECT
    source, source_file, line_number, record_index, property_index,
    source_file || ':' || line_number || ':' || record_index AS record_id,
    customer_key, customer_id, event_type, metric_id, aggregation,
    occurred_at, received_at, local_date, period_start,
    quantity, distinct_value, unit_price, price_source, price_model, currency,
    outcome, reason, detail, decided_by,
    CASE WHEN outcome = 'billed' THEN invoice_id END AS invoice_id,  -- a held record's names the invoice in its detail
    dedup_key, version_key, status, member
FROM int_priced_usage
WHERE change_id > since
