-- One row per customer × billing month of the months `?`: the distinct billed records on its invoice.
SELECT customer_id, period_start,
    count(*) FILTER (WHERE source <> 'paygentic')  -- one usage line per record outside paygentic batches
    + count(DISTINCT (source_file, line_number, record_index)) FILTER (WHERE source = 'paygentic') AS event_count
FROM int_priced_usage
WHERE outcome = 'billed' AND list_contains(?, period_start)
GROUP BY ALL
