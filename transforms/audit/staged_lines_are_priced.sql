-- Conservation staging -> priced usage: per source, as many priced usage lines as staged usage lines.
WITH staged AS (SELECT source, count(*) AS staged FROM staged_lines GROUP BY source),
     priced AS (SELECT source, count(*) AS priced FROM int_priced_usage GROUP BY source)
SELECT source, coalesce(staged, 0) AS staged, coalesce(priced, 0) AS priced
FROM staged FULL JOIN priced USING (source)
WHERE coalesce(staged, 0) <> coalesce(priced, 0)
ORDER BY source
