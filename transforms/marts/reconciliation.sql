-- One row per source: every record counted once (`int_outcome_counts`), under its one outcome.
WITH sources AS (
    SELECT unnest(['samplehc', 'tula', 'sequence', 'paygentic']) AS source
)
SELECT
    s.source,
    coalesce(sum(c.records) FILTER (WHERE c.outcome IS NOT NULL), 0)::BIGINT AS records,
    coalesce(sum(c.records) FILTER (WHERE c.outcome = 'billed'), 0)::BIGINT AS billed,
    coalesce(sum(c.records) FILTER (WHERE c.outcome = 'duplicate'), 0)::BIGINT AS duplicate,
    coalesce(sum(c.records) FILTER (WHERE c.outcome = 'superseded'), 0)::BIGINT AS superseded,
    coalesce(sum(c.records) FILTER (WHERE c.outcome = 'voided'), 0)::BIGINT AS voided,
    coalesce(sum(c.records) FILTER (WHERE c.outcome = 'rejected_by_vendor'), 0)::BIGINT AS rejected_by_vendor,
    coalesce(sum(c.records) FILTER (WHERE c.outcome = 'unmetered'), 0)::BIGINT AS unmetered,
    coalesce(sum(c.records) FILTER (WHERE c.outcome = 'quarantined'), 0)::BIGINT AS quarantined
FROM sources s
LEFT JOIN int_outcome_counts c USING (source)
GROUP BY s.source
ORDER BY s.source
