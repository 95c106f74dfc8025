-- The published lifecycle tables: issued documents as issued, then pending adjustments of the closed
-- months `$1` (registered frames pending_*) and the draft invoices of every other month.
DELETE FROM documents;
INSERT INTO documents
SELECT document_number, kind, 'issued' AS status, customer_id, period_start, period_end, currency,
       issue_date, due_date, corrects, total, sha256,
       issuer_name, issuer_address, issuer_tax_id, customer_name, customer_address, customer_tax_id
FROM lc_issued
UNION ALL
SELECT p.document_number, p.kind, 'draft', p.customer_id, p.period_start, p.period_end::DATE, p.currency,
       NULL::DATE, NULL::DATE, p.corrects, p.total::DECIMAL(38, 4), NULL::VARCHAR,
       NULL::VARCHAR, NULL::VARCHAR, NULL::VARCHAR, coalesce(c.name, p.customer_id), c.address, c.tax_id
FROM pending_documents p LEFT JOIN ref_customers c USING (customer_id)
UNION ALL
SELECT i.invoice_id, 'invoice', 'draft', i.customer_id, i.period_start, i.period_end, i.currency,
       NULL, NULL, NULL, i.total, NULL, NULL, NULL, NULL, coalesce(c.name, i.customer_id), c.address, c.tax_id
FROM invoices i LEFT JOIN ref_customers c USING (customer_id)
WHERE NOT list_contains($1::DATE[], i.period_start);

DELETE FROM document_lines;
INSERT INTO document_lines
SELECT document_number, metric_id, kind, tier, unit_price, quantity, amount, event_count, description
FROM lc_issued_lines
UNION ALL
SELECT document_number, metric_id, kind, tier, unit_price, quantity, amount, event_count, description
FROM pending_lines
UNION ALL
SELECT invoice_id, metric_id, kind, tier, unit_price, quantity, amount, event_count, description
FROM invoice_lines WHERE NOT list_contains($1::DATE[], period_start);

DELETE FROM document_line_records;
INSERT INTO document_line_records
SELECT document_number, metric_id, kind, tier, unit_price, source_file, line_number, record_index, change
FROM lc_issued_records
UNION ALL
SELECT document_number, metric_id, kind, tier, unit_price, source_file, line_number, record_index, change
FROM pending_records;
