-- The bytes of each line of one block (a block larger than a batch is split into its lines).
-- Input: `raw_source`, the view of the source's raw table.
SELECT load_id, source_file, line_number AS first_line, line_number AS last_line, strlen(envelope)::BIGINT AS bytes
FROM raw_source
WHERE load_id = $load_id AND source_file = $source_file AND line_number BETWEEN $first_line AND $last_line
ORDER BY line_number
