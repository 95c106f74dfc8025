-- One row per quarantined record, with the raw line it came from (credentials redacted). `since`: only
-- the lines resolved after that change (0 for all; see transforms.marts.define_view).
SELECT q.*, r.envelope AS raw
FROM quarantined_records_since(since) q
JOIN raw_lines r USING (source, source_file, line_number)
