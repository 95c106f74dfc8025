-- Conservation priced usage -> reconciliation: per source, the records of the reconciliation are the
-- distinct records of the priced usage (each record has exactly one first usage line, property_index 0,
-- which the priced-usage contract checks).
WITH priced AS (
    SELECT source, count(*) FILTER (WHERE property_index = 0) AS priced_records FROM int_priced_usage GROUP BY source
)
SELECT source, coalesce(r.records, 0) AS reconciled_records, coalesce(p.priced_records, 0) AS priced_records
FROM reconciliation r FULL JOIN priced p USING (source)
WHERE coalesce(r.records, 0) <> coalesce(p.priced_records, 0)
ORDER BY source
