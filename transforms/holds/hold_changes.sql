-- The usage lines of the months `?` whose hold changes (`transforms.holds`): a billed line of a `held_invoices`
-- invoice, a held line of an invoice no longer held, or a held line whose reason changed.
CREATE OR REPLACE TEMP TABLE hold_changes AS
SELECT p.source, p.source_file, p.line_number, p.record_index, p.property_index, h.detail
FROM int_priced_usage p
LEFT JOIN held_invoices h USING (invoice_id)
WHERE p.invoice_id IS NOT NULL AND list_contains(?, p.period_start)
  AND (p.outcome, p.detail) IS DISTINCT FROM
      (CASE WHEN h.invoice_id IS NULL THEN 'billed' ELSE 'quarantined' END, h.detail);
