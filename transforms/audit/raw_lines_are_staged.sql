-- Conservation raw -> staging, for the loads after $1 up to $2: every raw (non-blank) line has staged
-- rows, and every staged row has its raw line.
WITH raw AS (
    SELECT source, source_file, line_number FROM raw_lines WHERE load_id > $1 AND load_id <= $2
), staged AS (
    SELECT DISTINCT source, source_file, line_number FROM staged_lines WHERE load_id > $1 AND load_id <= $2
)
SELECT * FROM (
    SELECT 'raw line without staged rows' AS problem, * FROM raw ANTI JOIN staged USING (source, source_file, line_number)
    UNION ALL
    SELECT 'staged rows without a raw line' AS problem, * FROM staged ANTI JOIN raw USING (source, source_file, line_number)
)
ORDER BY source, source_file, line_number
LIMIT 1000
