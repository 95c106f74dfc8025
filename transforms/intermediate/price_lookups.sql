-- The lines to price (`price_input`) with the date their price book lookup uses: the event's local
-- date, or for `max` and `unique_count` the period's first day.
CREATE OR REPLACE TEMP VIEW price_lookups AS
SELECT *, CASE WHEN aggregation IN ('max', 'unique_count') THEN period_start ELSE local_date END AS price_date
FROM price_input;
