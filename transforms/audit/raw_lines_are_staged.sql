-- Conservation raw -> staging, for the loads after $1 up to $2: every raw (non-blank) line has staged
-- rows, and every staged row has its raw line. One full join: two anti joins built both sides twice
-- (6.8 s against 3.5 s over the 10M records' 7.8M lines).
WITH raw AS (
    SELECT source, source_file, line_number FROM raw_lines WHERE load_id > $1 AND load_id <= $2
), staged AS (
    SELECT DISTINCT source, source_file, line_number FROM staged_lines WHERE load_id > $1 AND load_id <= $2
)
SELECT CASE WHEN s.source IS NULL THEN 'raw line without staged rows' ELSE 'staged rows without a raw line' END
           AS problem,
       coalesce(r.source, s.source) AS source,
       coalesce(r.source_file, s.source_file) AS source_file,
       coalesce(r.line_number, s.line_number) AS line_number
FROM raw r FULL JOIN staged s USING (source, source_file, line_number)
WHERE r.source IS NULL OR s.source IS NULL
ORDER BY source, source_file, line_number
LIMIT 1000
