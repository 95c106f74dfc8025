-- The records behind each line of the documents in `doc_lines` (document_number, doc_kind, customer_id,
-- period_start, metric_id, kind, tier, unit_price): for an invoice, every billed record of the line
-- ('billed'); for a note, the records billed now but not in what was issued ('added'), those issued but
-- no longer billed on that line ('removed': voided, superseded, moved to another price or month), or,
-- when the records are the same and only their figures changed, all of them ('kept').
WITH wanted AS (
    SELECT DISTINCT customer_id, period_start FROM doc_lines
), billed AS (
    -- A record priced per unit is behind the usage line of its unit price; one a price row rates as a
    -- whole (SPEC §8) is behind every usage line of that rating (its tiers are the month's, not its own).
    SELECT DISTINCT p.customer_id, p.period_start, p.metric_id, l.kind, l.tier, l.unit_price,
           p.source_file, p.line_number, p.record_index
    FROM int_priced_usage p SEMI JOIN wanted w USING (customer_id, period_start)
    JOIN invoice_lines l
        ON l.customer_id = p.customer_id AND l.period_start = p.period_start AND l.metric_id = p.metric_id
        AND l.kind = 'usage' AND l.price_model = p.price_model
        AND (p.price_model <> 'per_unit' OR l.unit_price = p.unit_price)
    WHERE p.outcome = 'billed'
), issued AS (
    SELECT d.customer_id, d.period_start, r.metric_id, r.kind, r.tier, r.unit_price,
           r.source_file, r.line_number, r.record_index
    FROM lc_issued_records r JOIN lc_issued d USING (document_number)
    SEMI JOIN wanted w ON w.customer_id = d.customer_id AND w.period_start = d.period_start
    GROUP BY ALL
    HAVING sum(CASE r.change WHEN 'removed' THEN -1 WHEN 'kept' THEN 0 ELSE 1 END) > 0
), compared AS (
    SELECT coalesce(b.customer_id, i.customer_id) AS customer_id, coalesce(b.period_start, i.period_start) AS period_start,
           coalesce(b.metric_id, i.metric_id) AS metric_id, coalesce(b.kind, i.kind) AS kind,
           coalesce(b.tier, i.tier) AS tier, coalesce(b.unit_price, i.unit_price) AS unit_price,
           coalesce(b.source_file, i.source_file) AS source_file, coalesce(b.line_number, i.line_number) AS line_number,
           coalesce(b.record_index, i.record_index) AS record_index,
           CASE WHEN i.source_file IS NULL THEN 'added' WHEN b.source_file IS NULL THEN 'removed' ELSE 'kept' END AS change
    FROM billed b FULL JOIN issued i
        ON b.customer_id = i.customer_id AND b.period_start = i.period_start AND b.metric_id = i.metric_id
        AND b.kind = i.kind AND b.tier IS NOT DISTINCT FROM i.tier AND b.unit_price = i.unit_price
        AND b.source_file = i.source_file AND b.line_number = i.line_number AND b.record_index = i.record_index
), per_line AS (
    SELECT c.*, d.document_number, d.doc_kind,
           bool_or(c.change <> 'kept') OVER (PARTITION BY d.document_number, c.metric_id, c.kind, c.tier, c.unit_price) AS moved
    FROM compared c JOIN doc_lines d
        ON c.customer_id = d.customer_id AND c.period_start = d.period_start AND c.metric_id = d.metric_id
        AND c.kind = d.kind AND c.tier IS NOT DISTINCT FROM d.tier AND c.unit_price = d.unit_price
)
SELECT document_number, metric_id, kind, tier, unit_price, source_file, line_number, record_index,
       CASE WHEN doc_kind = 'invoice' THEN 'billed' ELSE change END AS change
FROM per_line
WHERE doc_kind = 'invoice' OR change <> 'kept' OR NOT moved
