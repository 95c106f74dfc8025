-- For every closed month, customer and line key (metric_id, kind, tier, unit_price): everything issued
-- for it plus its pending adjustment equals the month recomputed now (the invoice lines), to the cent.
WITH closed AS (
    SELECT month AS period_start FROM lc_closes
), recomputed AS (
    SELECT customer_id, period_start, metric_id, kind, tier, unit_price, quantity, amount
    FROM invoice_lines SEMI JOIN closed USING (period_start)
), documented AS (
    SELECT d.customer_id, d.period_start, l.metric_id, l.kind, l.tier, l.unit_price,
           sum(l.quantity) AS quantity, sum(l.amount) AS amount
    FROM document_lines l JOIN documents d USING (document_number) SEMI JOIN closed USING (period_start)
    GROUP BY ALL
)
SELECT coalesce(r.customer_id, d.customer_id) AS customer_id, coalesce(r.period_start, d.period_start) AS period_start,
       coalesce(r.metric_id, d.metric_id) AS metric_id, coalesce(r.unit_price, d.unit_price) AS unit_price,
       r.quantity AS recomputed_quantity, d.quantity AS documented_quantity,
       r.amount AS recomputed_amount, d.amount AS documented_amount
FROM recomputed r FULL JOIN documented d
    ON r.customer_id = d.customer_id AND r.period_start = d.period_start AND r.metric_id = d.metric_id
    AND r.kind = d.kind AND r.tier IS NOT DISTINCT FROM d.tier AND r.unit_price = d.unit_price
WHERE coalesce(r.quantity, 0) <> coalesce(d.quantity, 0) OR coalesce(r.amount, 0) <> coalesce(d.amount, 0)
