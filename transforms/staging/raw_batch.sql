-- The raw lines of one staging batch: load `$load_id`, from line `$first_line` of `$first_file` to line
-- `$last_line` of `$last_file` (files in name order). The plain bounds on load_id, source_file and
-- line_number (`$min_line`, `$max_line`: the batch's lines within one file) let DuckDB skip the row
-- groups outside the batch.
-- Input: `raw_source`, the view of the source's raw table (or of a window of its lines).
SELECT * FROM raw_source
WHERE load_id = $load_id AND source_file BETWEEN $first_file AND $last_file
  AND line_number BETWEEN $min_line AND $max_line
  AND (source_file > $first_file OR line_number >= $first_line)
  AND (source_file < $last_file OR line_number <= $last_line)
