-- The raw lines still to stage, in blocks of up to 256 consecutive lines of one file with their bytes,
-- in staging order. Lines are staged in (load_id, source_file, line_number) order, a batch per
-- transaction, so the lines already staged are those up to the last staged line (`$load_id`,
-- `$source_file`, `$line_number`). A hash aggregate, not a window: it costs one scan of the lines.
-- The lines after the cursor are two branches whose conditions (`load_id >`; `load_id =` with
-- `source_file >=`) DuckDB applies in the scan, so only pending lines' envelopes are decompressed; a
-- single OR is applied after the scan, to every envelope (0.10 s instead of 0.01 s for paygentic at
-- 1M). `batches.first_pending_load` reads the same lines.
-- Input: `raw_source`, the view of the source's raw table.
SELECT load_id, source_file, min(line_number) AS first_line, max(line_number) AS last_line,
       sum(strlen(envelope))::BIGINT AS bytes
FROM (SELECT * FROM raw_source WHERE load_id > $load_id
      UNION ALL
      SELECT * FROM raw_source WHERE load_id = $load_id AND source_file >= $source_file
        AND (source_file > $source_file OR line_number > $line_number))
GROUP BY load_id, source_file, line_number // 256
ORDER BY load_id, source_file, first_line
