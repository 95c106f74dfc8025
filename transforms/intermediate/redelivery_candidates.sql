-- Lines still standing after steps 1–5 that share (source, receivedAt) with another such line: only
-- these can be re-deliveries, since equal JSON values have equal receivedAt strings.
CREATE OR REPLACE TEMP TABLE redelivery_candidates AS
WITH standing AS (
    SELECT DISTINCT source, source_file, line_number, received_at, received_at_text
    FROM resolve_input
    WHERE reason IS NULL AND NOT vendor_rejected
), grouped AS (
    SELECT *, count(*) OVER (PARTITION BY source, received_at_text) AS lines_sharing
    FROM standing
)
SELECT source, source_file, line_number, received_at
FROM grouped
WHERE lines_sharing > 1
