-- One row per customer × billing month of the months `?`: the distinct billed records on its invoice.
SELECT customer_id, period_start,
    count(DISTINCT source_file || ':' || line_number || ':' || record_index) AS event_count
FROM int_priced_usage
WHERE outcome = 'billed' AND list_contains(?, period_start)
GROUP BY ALL
