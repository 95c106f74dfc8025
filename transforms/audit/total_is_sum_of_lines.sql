-- Every invoice total equals the sum of its line amounts; every line belongs to an invoice.
SELECT i.invoice_id, i.total, sum(l.amount) AS lines_sum, count(l.invoice_id) AS lines
FROM invoices i FULL JOIN invoice_lines l USING (invoice_id)
GROUP BY ALL
HAVING i.total IS DISTINCT FROM sum(l.amount) OR count(l.invoice_id) <> any_value(i.line_count)
