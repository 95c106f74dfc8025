-- Every billed usage line of an invoiced month is on an invoice line of its customer, month and metric:
-- at its unit price, or (a rated price row, SPEC §8) a usage line of its price model.
SELECT u.customer_id, u.period_start, u.metric_id, u.unit_price, u.price_model, count(*) AS billed_lines
FROM int_priced_usage u
LEFT JOIN invoice_lines l
    ON l.customer_id = u.customer_id AND l.period_start = u.period_start AND l.metric_id = u.metric_id
    AND l.kind = 'usage' AND l.price_model = u.price_model
    AND (u.price_model <> 'per_unit' OR l.unit_price = u.unit_price)
WHERE u.outcome = 'billed' AND u.period_start IN (SELECT DISTINCT period_start FROM invoices)
  AND l.invoice_id IS NULL
GROUP BY ALL
