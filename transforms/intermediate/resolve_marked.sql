-- Steps 5–6 of SPEC §2 line by line: quarantined, rejected by the vendor, or a re-delivery.
CREATE OR REPLACE TEMP VIEW resolve_marked AS
SELECT l.*,
    l.source_file || ':' || l.line_number || ':' || l.record_index AS record_id,
    CASE WHEN l.reason IS NOT NULL THEN 'quarantined'
         WHEN l.vendor_rejected THEN 'rejected_by_vendor'
         WHEN r.first_file IS NOT NULL THEN 'duplicate' END AS early_outcome,
    r.first_file || ':' || r.first_line || ':' || l.record_index AS redelivery_of,
    sub_microseconds(l.received_at_text) AS received_sub_us
FROM resolve_input l
LEFT JOIN redeliveries r USING (source, source_file, line_number)
