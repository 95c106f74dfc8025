-- One row per customer × billing month of the months `?`: the distinct billed records on its invoice.
SELECT customer_id, period_start,
    count(*) FILTER (WHERE property_index = 0) AS event_count  -- a record is billed whole: its first line counts it
FROM int_priced_usage
WHERE outcome = 'billed' AND list_contains(?, period_start)
GROUP BY ALL
