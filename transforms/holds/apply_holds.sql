-- Apply `hold_changes` (`hold_changes.sql`) to the priced usage, as change `?` of every record on their
-- dump lines (`hold_lines`): publishing writes a changed line's records again, all of them.
UPDATE int_priced_usage p
SET outcome = CASE WHEN c.detail IS NULL THEN 'billed' ELSE 'quarantined' END,
    reason = CASE WHEN c.detail IS NOT NULL THEN 'invalid_value' END,
    detail = c.detail
FROM hold_changes c
WHERE p.source = c.source AND p.source_file = c.source_file AND p.line_number = c.line_number
  AND p.record_index = c.record_index AND p.property_index = c.property_index;
UPDATE int_priced_usage p
SET change_id = ?
FROM hold_lines l
WHERE p.source = l.source AND p.source_file = l.source_file AND p.line_number = l.line_number;
