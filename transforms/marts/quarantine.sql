-- One row per quarantined record, with the raw line it came from (credentials redacted). `since`: only
-- the lines resolved after that change (0 for all; see transforms.marts.define_view).
SELECT DISTINCT ON (u.source, u.source_file, u.line_number, u.record_index)
    u.source, u.source_file, u.line_number, u.record_index, u.reason, u.detail, r.envelope AS raw
FROM int_priced_usage u
JOIN raw_lines r USING (source, source_file, line_number)
WHERE u.outcome = 'quarantined' AND u.change_id > since
ORDER BY u.source, u.source_file, u.line_number, u.record_index, u.property_index
