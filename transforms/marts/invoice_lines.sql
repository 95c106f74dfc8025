-- One row per customer × billing month × metric × unit price of the billed usage in the months `?`:
-- the meter's aggregate and the distinct records behind it. Amounts are taken later, in exact decimals.
-- `record_count` counts each record on the line of its first usage line (property 0), so an invoice's
-- records are the sum over its lines: a record is billed whole, on one customer and month.
SELECT invoice_id, customer_id, period_start, metric_id, unit_price, currency,
    any_value(aggregation) AS aggregation,
    CASE any_value(aggregation)
        WHEN 'max' THEN max(quantity)
        WHEN 'unique_count' THEN count(DISTINCT distinct_value)
        ELSE sum(quantity)
    END::DECIMAL(38, 18) AS quantity,
    count(*) FILTER (WHERE counts_as_event) AS event_count,
    count(*) FILTER (WHERE property_index = 0) AS record_count
FROM int_priced_usage
WHERE outcome = 'billed' AND list_contains(?, period_start)
GROUP BY ALL
