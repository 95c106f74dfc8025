-- Every billed usage line of an invoiced month is on an invoice line of its customer, month, metric and unit price.
SELECT u.customer_id, u.period_start, u.metric_id, u.unit_price, count(*) AS billed_lines
FROM int_priced_usage u
LEFT JOIN invoice_lines l USING (customer_id, period_start, metric_id, unit_price)
WHERE u.outcome = 'billed' AND u.period_start IN (SELECT DISTINCT period_start FROM invoices)
  AND l.invoice_id IS NULL
GROUP BY ALL
