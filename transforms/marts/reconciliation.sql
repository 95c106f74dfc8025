-- One row per source: every record counted once (by its first usage line, property_index 0, which
-- every record has), under its one outcome.
WITH records AS (
    SELECT source, outcome FROM int_priced_usage WHERE property_index = 0
), sources AS (
    SELECT unnest(['samplehc', 'tula', 'sequence', 'paygentic']) AS source
)
SELECT
    s.source,
    count(r.outcome) AS records,
    count(*) FILTER (WHERE r.outcome = 'billed') AS billed,
    count(*) FILTER (WHERE r.outcome = 'duplicate') AS duplicate,
    count(*) FILTER (WHERE r.outcome = 'superseded') AS superseded,
    count(*) FILTER (WHERE r.outcome = 'voided') AS voided,
    count(*) FILTER (WHERE r.outcome = 'rejected_by_vendor') AS rejected_by_vendor,
    count(*) FILTER (WHERE r.outcome = 'unmetered') AS unmetered,
    count(*) FILTER (WHERE r.outcome = 'quarantined') AS quarantined
FROM sources s
LEFT JOIN records r USING (source)
GROUP BY s.source
ORDER BY s.source
