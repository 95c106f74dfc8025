-- The keys on the staged rows of `scope_rows` that no round of closing the resolution scope has looked
-- up yet: re-delivery groups (source, receivedAt), idempotency keys and version keys.
CREATE OR REPLACE TEMP TABLE scope_new_keys AS
SELECT DISTINCT * FROM (
              SELECT 'received_at' AS kind, source, received_at_text AS key FROM scope_rows
    UNION ALL SELECT 'dedup_key',           source, dedup_key               FROM scope_rows
    UNION ALL SELECT 'version_key',         source, version_key             FROM scope_rows
)
WHERE key IS NOT NULL
EXCEPT SELECT kind, source, key FROM scope_keys;

INSERT INTO scope_keys SELECT * FROM scope_new_keys;

SELECT count(*) FROM scope_new_keys;
