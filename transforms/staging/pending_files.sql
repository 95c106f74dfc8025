-- The files with raw lines still to stage, each with its last staged line (0 when none is). One stream
-- stages a file's lines in line order, a batch per transaction, so a file's staged lines are those up
-- to its last staged line, whatever the other streams staged of other files (`streams.py`). Two scans
-- of two narrow columns; no envelope is read.
-- Input: `raw_source` and `staged_source`, the views of the source's raw and staged tables.
SELECT load_id, source_file, coalesce(s.last_staged, 0) AS last_staged
FROM (SELECT load_id, source_file, max(line_number) AS last_line FROM raw_source GROUP BY ALL) AS loaded
LEFT JOIN (SELECT load_id, source_file, max(line_number) AS last_staged FROM staged_source GROUP BY ALL) AS s
    USING (load_id, source_file)
WHERE loaded.last_line > coalesce(s.last_staged, 0)
