-- One row per customer × billing month × metric × unit price of the billed usage in the months `?`:
-- the meter's aggregate and the distinct records behind it. Amounts are taken later, in exact decimals.
SELECT invoice_id, customer_id, period_start, metric_id, unit_price, currency,
    any_value(aggregation) AS aggregation,
    CASE any_value(aggregation)
        WHEN 'max' THEN max(quantity)
        WHEN 'unique_count' THEN count(DISTINCT distinct_value)
        ELSE sum(quantity)
    END::DECIMAL(38, 18) AS quantity,
    count(*) FILTER (WHERE source <> 'paygentic')  -- one usage line per record outside paygentic batches
    + count(DISTINCT (source_file, line_number, record_index)) FILTER (WHERE source = 'paygentic') AS event_count
FROM int_priced_usage
WHERE outcome = 'billed' AND list_contains(?, period_start)
GROUP BY ALL
