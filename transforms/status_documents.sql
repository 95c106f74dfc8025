-- Per month with documents (SPEC §7): closed once something was issued for it, the numbers issued,
-- open drafts (the draft invoices of a month not closed) and pending adjustments (drafts of a closed month).
WITH months AS (
    SELECT period_start, bool_or(status = 'issued') AS closed FROM documents GROUP BY period_start
)
SELECT d.period_start,
    CASE WHEN m.closed THEN 'closed' ELSE 'open' END AS state,
    coalesce(string_agg(d.document_number, ', ' ORDER BY d.document_number) FILTER (WHERE d.status = 'issued'), '')
        AS issued,
    count(*) FILTER (WHERE d.status = 'draft' AND NOT m.closed) AS drafts,
    count(*) FILTER (WHERE d.status = 'draft' AND m.closed) AS pending_adjustments,
    coalesce(list({'currency': d.currency, 'total': d.total} ORDER BY d.document_number)
        FILTER (WHERE d.status = 'draft' AND m.closed), []) AS pending_totals
FROM documents d JOIN months m USING (period_start)
GROUP BY d.period_start, m.closed
ORDER BY d.period_start
