-- One row per customer of customers.csv: what an invoice document shows of its customer. Published beside
-- the five tables, so the documents are rendered from the published file alone.
SELECT customer_id, name, timezone, address, tax_id FROM ref_customers
