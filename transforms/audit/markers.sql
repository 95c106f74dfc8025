-- One marker per audit scope: it changes whenever the data the scope's checks read change.
SELECT
    (SELECT coalesce(max(load_id), 0) FROM raw_files)::VARCHAR AS loads,
    (SELECT coalesce(max(load_id), 0) FROM raw_files)::VARCHAR || ':'
        || (SELECT coalesce(max(change_id), 0) FROM int_changes)::VARCHAR AS changes,
    (SELECT writes FROM int_invoice_writes)::VARCHAR AS invoices,
    (SELECT writes FROM lc_writes)::VARCHAR AS documents
