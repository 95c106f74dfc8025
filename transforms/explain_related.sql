-- The other records an outcome decision links to one record: those it decided (their decided_by is this
-- record) and those of its source that share its idempotency key or its version key. One row per record,
-- with its outcome and the record that decided it, in SPEC order.
WITH this AS (
    SELECT ? AS record_id, ? AS source, ? AS dedup_key, ? AS version_key
)
SELECT u.record_id, any_value(u.source_file) AS source_file, any_value(u.line_number) AS line_number,
    any_value(u.record_index) AS record_index, any_value(u.outcome) AS outcome,
    any_value(u.decided_by) AS decided_by,
    coalesce(bool_or(u.decided_by = t.record_id), false) AS decided_by_this,
    coalesce(bool_or(u.dedup_key = t.dedup_key), false) AS same_dedup_key,
    coalesce(bool_or(u.version_key = t.version_key), false) AS same_version_key,
    min(u.received_at) AS received_at
FROM usage_events u, this t
WHERE u.record_id <> t.record_id
  AND (u.decided_by = t.record_id
       OR (u.source = t.source AND (u.dedup_key = t.dedup_key OR u.version_key = t.version_key)))
GROUP BY u.record_id
ORDER BY received_at, source_file, line_number, record_index
