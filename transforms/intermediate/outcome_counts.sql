-- One row per source × outcome of the priced usage: its records, each counted once, on its first usage
-- line (property_index 0, which every record has). Written with the priced usage, so reconciling the
-- sources reads a few rows instead of every usage line.
SELECT source, outcome, count(*) AS records
FROM int_priced_usage
WHERE property_index = 0
GROUP BY ALL
