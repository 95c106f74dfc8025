-- One row per customer × billing month × metric × unit price (per-unit usage) or price row (usage a
-- graduated, volume or package row rates as a whole, SPEC §8) of the billed usage (with the first `?`,
-- the held usage too: `transforms.holds`) in the months of the second `?`: the meter's aggregate and
-- the distinct records behind it. Amounts are taken later, in exact decimals. A sum is `month_sum`
-- (`month_sum.sql`).
-- `record_count` counts each record on the line of its first usage line (property 0), so an invoice's
-- records are the sum over its lines: a record is billed whole, on one customer and month.
-- A metric has one aggregation (reference data), so `unique_count` lines are grouped apart: a distinct
-- count in the one grouping would make DuckDB keep a distinct set for every line of every meter.
WITH billed AS (
    SELECT * FROM int_priced_usage
    WHERE invoice_id IS NOT NULL AND (outcome = 'billed' OR ?) AND list_contains(?, period_start)
)
SELECT invoice_id, customer_id, period_start, metric_id, unit_price, currency, price_model, price_row_customer,
    price_row_from,
    any_value(aggregation) AS aggregation,
    CASE any_value(aggregation) WHEN 'max' THEN max(quantity) ELSE month_sum(quantity) END::DECIMAL(38, 18) AS quantity,
    count(*) FILTER (WHERE counts_as_event) AS event_count,
    count(*) FILTER (WHERE property_index = 0) AS record_count
FROM billed
WHERE aggregation IS DISTINCT FROM 'unique_count'
GROUP BY ALL
UNION ALL
SELECT invoice_id, customer_id, period_start, metric_id, unit_price, currency, price_model, price_row_customer,
    price_row_from,
    any_value(aggregation) AS aggregation,
    count(DISTINCT distinct_value)::DECIMAL(38, 18) AS quantity,
    count(*) FILTER (WHERE counts_as_event) AS event_count,
    count(*) FILTER (WHERE property_index = 0) AS record_count
FROM billed
WHERE aggregation = 'unique_count'
GROUP BY ALL
