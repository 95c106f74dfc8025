-- One row per quarantined record, without its raw line: the part of `quarantine.sql` read from the
-- priced usage. `since`: only the lines resolved after that change (0 for all).
SELECT DISTINCT ON (source, source_file, line_number, record_index)
    source, source_file, line_number, record_index, reason, detail
FROM int_priced_usage
WHERE outcome = 'quarantined' AND change_id > since
ORDER BY source, source_file, line_number, record_index, property_index
