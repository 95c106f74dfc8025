-- Months a minimum commitment gives an invoice that they do not have yet (SPEC §8): each month from the
-- first to the last with billed usage of any customer, whose first day a commitment with a minimum
-- above 0 covers, and in which its customer has no invoice.
WITH span AS (
    SELECT min(period_start) AS first_month, max(period_start) AS last_month
    FROM int_priced_usage WHERE outcome = 'billed'
), months AS (
    SELECT unnest(generate_series(first_month, last_month, INTERVAL 1 MONTH))::DATE AS month
    FROM span WHERE first_month IS NOT NULL
)
SELECT DISTINCT m.month
FROM months m
JOIN ref_commitments c
    ON (c.effective_from IS NULL OR c.effective_from <= m.month) AND (c.effective_to IS NULL OR m.month < c.effective_to)
WHERE c.minimum_amount > 0
  AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.customer_id = c.customer_id AND i.period_start = m.month)
ORDER BY 1
