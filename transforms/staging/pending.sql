-- The raw lines still to stage, in blocks of up to 256 consecutive lines of one file with their bytes,
-- in (load_id, source_file, line_number) order: the lines of `pending_files` after each file's last
-- staged line. A hash aggregate, not a window: it costs one scan of the lines. DuckDB filters the scan
-- by the range of the pending files' loads and names, so the envelopes of older loads are not read.
-- Input: `raw_source`, the view of the source's raw table, and `pending_files` (`pending_files.sql`).
SELECT load_id, source_file, min(line_number) AS first_line, max(line_number) AS last_line,
       sum(strlen(envelope))::BIGINT AS bytes
FROM raw_source JOIN pending_files USING (load_id, source_file)
WHERE line_number > last_staged
GROUP BY load_id, source_file, line_number // 256
ORDER BY load_id, source_file, first_line
