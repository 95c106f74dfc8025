-- One step of closing the resolution scope: every staged line that shares a re-delivery group
-- (source, receivedAt), an idempotency key or a version key with a line already in scope, and is
-- not in scope yet. Repeated until it adds nothing, every group a scoped line belongs to is whole.
WITH scoped AS (
    SELECT source, received_at_text, dedup_key, version_key
    FROM staged_lines SEMI JOIN resolve_scope USING (source, source_file, line_number)
), sharing AS (
    SELECT s.source, s.source_file, s.line_number
    FROM staged_lines s JOIN (SELECT DISTINCT source, received_at_text FROM scoped) k USING (source, received_at_text)
    UNION
    SELECT s.source, s.source_file, s.line_number
    FROM staged_lines s JOIN (SELECT DISTINCT source, dedup_key FROM scoped) k USING (source, dedup_key)
    UNION
    SELECT s.source, s.source_file, s.line_number
    FROM staged_lines s JOIN (SELECT DISTINCT source, version_key FROM scoped) k USING (source, version_key)
)
INSERT INTO resolve_scope
SELECT * FROM sharing ANTI JOIN resolve_scope USING (source, source_file, line_number)
