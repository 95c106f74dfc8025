-- One row per (customer, month, metric, kind, tier, unit price) of the closed months `$1` where the month
-- recomputed now (the invoice lines) differs from everything issued for it (the invoice and every note
-- since): the quantity, amount and record-count differences. Issued plus this equals the recomputed month.
WITH recomputed AS (
    SELECT customer_id, period_start, metric_id, kind, tier, unit_price, quantity, amount, event_count, currency,
           description
    FROM invoice_lines
    WHERE list_contains($1::DATE[], period_start)
), issued AS (
    SELECT l.customer_id, l.period_start, l.metric_id, l.kind, l.tier, l.unit_price,
           sum(l.quantity) AS quantity, sum(l.amount) AS amount, sum(l.event_count) AS event_count,
           any_value(d.currency) AS currency, any_value(l.description) AS description
    FROM lc_issued_lines l JOIN lc_issued d USING (document_number)
    GROUP BY ALL
)
SELECT
    coalesce(r.customer_id, i.customer_id) AS customer_id,
    coalesce(r.period_start, i.period_start) AS period_start,
    coalesce(r.metric_id, i.metric_id) AS metric_id,
    coalesce(r.kind, i.kind) AS kind,
    coalesce(r.tier, i.tier) AS tier,
    coalesce(r.unit_price, i.unit_price) AS unit_price,
    (coalesce(r.quantity, 0) - coalesce(i.quantity, 0))::DECIMAL(38, 18) AS quantity,
    (coalesce(r.amount, 0) - coalesce(i.amount, 0))::DECIMAL(38, 4) AS amount,
    (coalesce(r.event_count, 0) - coalesce(i.event_count, 0))::BIGINT AS event_count,
    coalesce(r.currency, i.currency) AS currency,
    coalesce(r.description, i.description) AS description
FROM recomputed r
FULL JOIN issued i
    ON r.customer_id = i.customer_id AND r.period_start = i.period_start AND r.metric_id = i.metric_id
    AND r.kind = i.kind AND r.tier IS NOT DISTINCT FROM i.tier AND r.unit_price = i.unit_price
WHERE coalesce(r.quantity, 0) <> coalesce(i.quantity, 0) OR coalesce(r.amount, 0) <> coalesce(i.amount, 0)
   OR i.customer_id IS NULL  -- a key never issued, even of 0 (a billed quantity of 0 is a line of 0)
