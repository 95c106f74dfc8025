-- The other records an outcome decision links to one record ($record_id): those it decided (their
-- decided_by is this record) and those of its $source that share its idempotency key ($dedup_key) or its
-- version key ($version_key), with their outcomes as `record_outcomes` gives them, in SPEC order.
SELECT record_id, outcome, decided_by,
    coalesce(decided_by = $record_id, false) AS decided_by_this,
    coalesce(dedup_key = $dedup_key, false) AS same_dedup_key,
    coalesce(version_key = $version_key, false) AS same_version_key
FROM record_outcomes
WHERE record_id <> $record_id
  AND (decided_by = $record_id OR (source = $source AND (dedup_key = $dedup_key OR version_key = $version_key)))
ORDER BY received_at, source_file, line_number, record_index
