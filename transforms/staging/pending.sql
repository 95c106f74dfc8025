-- The raw lines still to stage, in blocks of up to 256 consecutive lines of one file with their bytes,
-- in staging order. Lines are staged in (load_id, source_file, line_number) order, a batch per
-- transaction, so the lines already staged are those up to the last staged line (`$load_id`,
-- `$source_file`, `$line_number`). A hash aggregate, not a window: it costs one scan of the lines.
-- Input: `raw_source`, the view of the source's raw table.
SELECT load_id, source_file, min(line_number) AS first_line, max(line_number) AS last_line,
       sum(strlen(envelope))::BIGINT AS bytes
FROM raw_source
WHERE load_id > $load_id
   OR (load_id = $load_id AND (source_file > $source_file OR (source_file = $source_file AND line_number > $line_number)))
GROUP BY load_id, source_file, line_number // 256
ORDER BY load_id, source_file, first_line
