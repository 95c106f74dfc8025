-- Steps 9–10 of SPEC §2 and the billing period: customer, meter, metered value, local date. A line whose
-- local month is outside 0001-01 to 9999-12 has no period (it is quarantined, meter_checks.sql).
-- A paygentic event is judged whole: any unmetered property makes the record unmetered, any bad
-- value quarantines it. Other records are one usage line each. Problems are rare, so the records
-- that have one are found by a small aggregate rather than a window over every line. The record's
-- problem is its first property's in index order (unmetered first): without the index, arg_min's ties
-- went to whichever line it saw first, so the detail could change from run to run.
WITH record_problems AS (
    SELECT source_file, line_number, record_index,
        arg_min(line_problem, (CASE WHEN starts_with(line_problem, 'unmetered') THEN 0 ELSE 1 END, property_index))
            AS record_problem
    FROM meter_checks
    WHERE source = 'paygentic' AND line_problem IS NOT NULL
    GROUP BY ALL
), judged AS (
    SELECT c.*, coalesce(r.record_problem, c.line_problem) AS record_problem
    FROM meter_checks c
    LEFT JOIN record_problems r USING (source_file, line_number, record_index)
)
SELECT * EXCLUDE (property_path, value_type, value_text, line_problem, record_problem, quantity, outcome, reason, detail,
                  properties),  -- the event's properties: metering is the last step to read them
    CASE
        WHEN record_problem IS NULL THEN outcome
        WHEN starts_with(record_problem, 'unmetered') THEN 'unmetered'
        ELSE 'quarantined'
    END AS outcome,
    CASE WHEN record_problem IS NULL THEN reason
         WHEN NOT starts_with(record_problem, 'unmetered') THEN split_part(record_problem, ': ', 1) END AS reason,
    coalesce(substr(record_problem, strpos(record_problem, ': ') + 2), detail) AS detail,
    CASE
        WHEN aggregation = 'count' THEN 1::DECIMAL(38, 18)
        WHEN aggregation = 'unique_count' THEN NULL
        WHEN property_path IS NOT NULL THEN to_amount(value_text)
        ELSE quantity
    END AS quantity,
    CASE WHEN aggregation = 'unique_count' THEN CASE
        WHEN property_path IS NULL THEN 'number:' || quantity::VARCHAR
        WHEN value_type = 'VARCHAR' THEN 'string:' || value_text
        ELSE 'number:' || coalesce(to_amount(value_text)::VARCHAR, value_text) END
    END AS distinct_value
FROM judged
