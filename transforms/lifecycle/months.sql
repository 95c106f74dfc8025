-- One row per month with documents: closed or open, what was issued for it, and what is pending.
SELECT strftime(d.period_start, '%Y-%m') AS month,
       CASE WHEN any_value(c.month) IS NULL THEN 'open' ELSE 'closed' END AS state,
       coalesce(string_agg(d.document_number, ', ' ORDER BY d.document_number) FILTER (WHERE d.status = 'issued'), '')
           AS issued_numbers,
       count(*) FILTER (WHERE d.status = 'draft' AND c.month IS NULL) AS draft_invoices,
       count(*) FILTER (WHERE d.status = 'draft' AND c.month IS NOT NULL) AS pending_adjustments
FROM documents d LEFT JOIN lc_closes c ON c.month = d.period_start
GROUP BY 1
ORDER BY 1
