-- The raw lines still to stage, cut into segments: runs of consecutive lines of one file that start
-- within the same `batch_bytes` of the file (so a segment holds at most `batch_bytes` plus one line).
-- Lines are staged in (load_id, source_file, line_number) order, a batch per transaction, so the lines
-- already staged are those up to the last staged line (`$load_id`, `$source_file`, `$line_number`).
-- Input: `raw_source`, the view of the source's raw table.
SELECT load_id, source_file, min(line_number) AS first_line, max(line_number) AS last_line,
       sum(bytes)::BIGINT AS bytes
FROM (
    SELECT load_id, source_file, line_number, strlen(envelope) AS bytes,
        (sum(strlen(envelope)) OVER (PARTITION BY load_id, source_file ORDER BY line_number
                                     ROWS UNBOUNDED PRECEDING) - strlen(envelope)) // $batch_bytes AS chunk
    FROM raw_source
    WHERE load_id > $load_id
       OR (load_id = $load_id AND (source_file > $source_file
                                   OR (source_file = $source_file AND line_number > $line_number)))
)
GROUP BY load_id, source_file, chunk
ORDER BY load_id, source_file, first_line
