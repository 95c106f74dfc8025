-- Analyst views of the published warehouse, over its five tables. Run on the new published file itself
-- (unqualified names) on every publish, before it replaces the old one; `comments.sql` documents them.

-- Customer × currency × month, every month from the customer's first invoice to the newest invoiced
-- month of the warehouse: a month without an invoice counts as 0, so a churned customer shows a drop.
CREATE VIEW revenue_month_over_month AS
WITH months AS (
    SELECT customer_id, currency,
        unnest(generate_series(min(period_start), (SELECT max(period_start) FROM invoices), INTERVAL 1 MONTH))::DATE
            AS period_start
    FROM invoices
    GROUP BY customer_id, currency
), monthly AS (
    SELECT m.customer_id, m.currency, m.period_start, i.invoice_id,
        coalesce(i.total, 0)::DECIMAL(38, 4) AS total
    FROM months m
    LEFT JOIN invoices i USING (customer_id, currency, period_start)
)
SELECT customer_id, currency, period_start, invoice_id, total,
    coalesce(lag(total) OVER series, 0)::DECIMAL(38, 4) AS previous_total,
    (total - coalesce(lag(total) OVER series, 0))::DECIMAL(38, 4) AS change
FROM monthly
WINDOW series AS (PARTITION BY customer_id, currency ORDER BY period_start);

-- Metric × month × currency of the billed usage, from the invoice lines. Every line fits its columns,
-- but a sum over customers need not: whole units and fractions are summed apart (neither sum can
-- overflow), and a sum that does not fit is NULL rather than an error for the whole query.
CREATE VIEW billed_usage_by_metric AS
WITH sums AS (
    SELECT metric_id, aggregation, period_start, currency,
        count(DISTINCT customer_id) AS customers,
        count(*) AS invoice_lines,
        sum(event_count)::BIGINT AS events,
        sum(floor(quantity)) AS quantity_units, sum(quantity - floor(quantity)) AS quantity_fractions,
        sum(floor(amount)) AS amount_units, sum(amount - floor(amount)) AS amount_fractions
    FROM invoice_lines
    GROUP BY metric_id, aggregation, period_start, currency
)
SELECT metric_id, aggregation, period_start, currency, customers, invoice_lines, events,
    CASE WHEN quantity_units + floor(quantity_fractions) < 100000000000000000000
         THEN least(quantity_units, 99999999999999999999)::DECIMAL(38, 18) + quantity_fractions END AS quantity,
    CASE WHEN amount_units + floor(amount_fractions) < 10000000000000000000000000000000000
         THEN least(amount_units, 9999999999999999999999999999999999)::DECIMAL(38, 4) + amount_fractions END AS amount
FROM sums;

-- SPEC §5 `quarantine`: one row per quarantined record with its raw line, kept once per line.
CREATE VIEW quarantine AS
SELECT q.source, q.source_file, q.line_number, q.record_index, q.reason, q.detail, l.raw
FROM quarantine_records q
JOIN quarantine_lines l USING (source, source_file, line_number);

-- Source × quarantine reason, with the first quarantined record (in file and line order) as an example.
CREATE VIEW quarantine_reasons AS
SELECT source, reason,
    count(*) AS records,
    count(DISTINCT source_file) AS files,
    arg_min(source_file || ':' || line_number || ':' || record_index,
            (source_file, line_number, record_index)) AS example_record_id,
    arg_min(detail, (source_file, line_number, record_index)) AS example_detail
FROM quarantine
GROUP BY source, reason;

-- Lineage, invoice line → raw records: one row per billed usage line, with the invoice line it is on.
CREATE VIEW invoice_line_records AS
SELECT u.invoice_id, u.customer_id, u.period_start, u.metric_id, u.unit_price,
    l.aggregation, u.currency,
    l.quantity AS line_quantity, l.amount AS line_amount, l.event_count AS line_event_count,
    u.record_id, u.source, u.source_file, u.line_number, u.record_index, u.property_index,
    u.customer_key, u.event_type, u.occurred_at, u.local_date,
    u.quantity, u.distinct_value, u.price_source, l.kind, l.tier, u.price_model
FROM usage_events u
LEFT JOIN invoice_lines l
    ON l.invoice_id = u.invoice_id AND l.metric_id = u.metric_id AND l.kind = 'usage'
    AND l.price_model = u.price_model AND (u.price_model <> 'per_unit' OR l.unit_price = u.unit_price)
WHERE u.outcome = 'billed';

-- Lineage, raw record → outcome: one row per record (its first usage line, property 0, which every
-- record has), with the record that decided a duplicate or superseded one and what became of that.
CREATE VIEW record_outcomes AS
SELECT u.record_id, u.source, u.source_file, u.line_number, u.record_index,
    p.usage_lines, p.event_types, p.metric_ids,
    u.customer_key, u.customer_id, u.occurred_at, u.received_at, u.local_date, u.period_start,
    u.outcome, u.reason, u.detail, u.status, u.member, u.dedup_key, u.version_key,
    u.decided_by, w.outcome AS decided_by_outcome, w.invoice_id AS decided_by_invoice_id,
    u.invoice_id
FROM usage_events u
JOIN (
    SELECT record_id, count(*) AS usage_lines,
        list(event_type ORDER BY property_index) AS event_types,
        list(metric_id ORDER BY property_index) AS metric_ids
    FROM usage_events
    GROUP BY record_id
) p USING (record_id)
LEFT JOIN usage_events w ON w.record_id = u.decided_by AND w.property_index = 0
WHERE u.property_index = 0;
