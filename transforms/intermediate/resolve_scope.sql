-- One round of closing the resolution scope (`transforms.intermediate._scope_new_lines`): the staged
-- lines that share a key of `scope_new_keys` and are not in scope yet join it, and their rows become
-- `scope_rows`, whose keys the next round looks up. A key looked up once has brought in every line
-- that has it, so a round reads only what the last one found; when no key is new, every group of a
-- scoped line is whole.
CREATE OR REPLACE TEMP TABLE scope_added AS
SELECT * FROM (
    SELECT s.source, s.source_file, s.line_number FROM staged_lines s JOIN scope_new_keys k
        ON k.kind = 'received_at' AND s.source = k.source AND s.received_at_text = k.key
    UNION
    SELECT s.source, s.source_file, s.line_number FROM staged_lines s JOIN scope_new_keys k
        ON k.kind = 'dedup_key' AND s.source = k.source AND s.dedup_key = k.key
    UNION
    SELECT s.source, s.source_file, s.line_number FROM staged_lines s JOIN scope_new_keys k
        ON k.kind = 'version_key' AND s.source = k.source AND s.version_key = k.key
)
ANTI JOIN resolve_scope USING (source, source_file, line_number);

INSERT INTO resolve_scope SELECT * FROM scope_added;

CREATE OR REPLACE TEMP TABLE scope_rows AS
SELECT source, source_file, line_number, received_at_text, dedup_key, version_key
FROM staged_lines SEMI JOIN scope_added USING (source, source_file, line_number);
