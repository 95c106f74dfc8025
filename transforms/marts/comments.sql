-- The data dictionary of the published warehouse: a COMMENT on every table, view and column. Run on
-- the published file after `views.sql`. docs/warehouse.md is generated from these comments
-- (`python -m dagster_project.dictionary`); edit them here, never there.

-- invoices -----------------------------------------------------------------------------------------
COMMENT ON TABLE invoices IS 'One row per invoice: a customer × billing month (calendar month in the customer''s time zone) with at least one billed record. The total is the sum of its invoice_lines amounts.';
COMMENT ON COLUMN invoices.invoice_id IS 'Invoice id INV-<yyyymm>-<customer_id>: unique, and the same on every run for the same inputs. Never NULL.';
COMMENT ON COLUMN invoices.customer_id IS 'Customer invoiced (customer_id of customers.csv). Never NULL.';
COMMENT ON COLUMN invoices.period_start IS 'First day of the billing month, a calendar month in the customer''s time zone. Never NULL.';
COMMENT ON COLUMN invoices.period_end IS 'First day of the next month: the exclusive end of the billing period. Never NULL.';
COMMENT ON COLUMN invoices.currency IS 'ISO 4217 code of the customer''s currency (customers.csv); every amount of the invoice is in it. Never NULL.';
COMMENT ON COLUMN invoices.total IS 'Sum of the invoice''s line amounts, in the invoice currency, rounded to its ISO 4217 minor unit (USD 2 decimals, JPY 0, BHD 3; stored with 4). Can be 0 (a billed quantity of 0). Never NULL.';
COMMENT ON COLUMN invoices.line_count IS 'Number of invoice_lines rows of the invoice. Never NULL.';
COMMENT ON COLUMN invoices.event_count IS 'Distinct billed records on the invoice: a paygentic event with several properties counts once. Never NULL.';

-- invoice_lines ------------------------------------------------------------------------------------
COMMENT ON TABLE invoice_lines IS 'One row per invoice line: customer × billing month × metric × unit price of the billed usage. amount = quantity × unit_price, exact, rounded half-to-even to the currency''s minor unit. The view invoice_line_records lists the records behind each line.';
COMMENT ON COLUMN invoice_lines.invoice_id IS 'Invoice the line is on (invoices.invoice_id). Never NULL.';
COMMENT ON COLUMN invoice_lines.customer_id IS 'Customer invoiced (customer_id of customers.csv). Never NULL.';
COMMENT ON COLUMN invoice_lines.period_start IS 'First day of the billing month, in the customer''s time zone. Never NULL.';
COMMENT ON COLUMN invoice_lines.metric_id IS 'Billable metric (metric_id of meters.csv). Never NULL.';
COMMENT ON COLUMN invoice_lines.aggregation IS 'How the metric''s meter aggregates a month: sum (adds quantities), count (counts records), max (largest value), unique_count (distinct values). NULL on a minimum line.';
COMMENT ON COLUMN invoice_lines.unit_price IS 'Price per unit in the invoice currency, in major units, exact: the price the events carried, else the per-unit price book row effective on the event''s local date (max and unique_count: on the first day of the month); on a rated line the tier''s price, the price per package, the flat fee, or the minimum''s shortfall. Two prices of one metric in a month make two lines. Never NULL.';
COMMENT ON COLUMN invoice_lines.kind IS 'usage (units at a price), flat_fee (a tier''s fee, quantity 1) or minimum (a minimum commitment''s shortfall, metric minimum_commitment, quantity 1). Never NULL.';
COMMENT ON COLUMN invoice_lines.tier IS 'Tier of a graduated or volume price row, from 1 in price_tiers.csv''s order. NULL outside tiers (per unit, package, minimum).';
COMMENT ON COLUMN invoice_lines.price_model IS 'Model of the price that made the line: per_unit (also every event-carried price), graduated, volume or package; the month''s model is the one of the price row effective on its first day. NULL on a minimum line.';
COMMENT ON COLUMN invoice_lines.description IS 'The line in the words a document shows: the metric, and for a rated line its tier and bounds, its packages or its fee, or the minimum commitment.';
COMMENT ON COLUMN invoice_lines.quantity IS 'The meter''s aggregate over the line''s records, exact: the sum of their quantities (sum), the number of records (count), the largest value (max) or the number of distinct values (unique_count). Never NULL.';
COMMENT ON COLUMN invoice_lines.amount IS 'quantity × unit_price computed exactly, rounded half-to-even to the ISO 4217 minor unit of the invoice currency (stored with 4 decimals). Never NULL.';
COMMENT ON COLUMN invoice_lines.currency IS 'ISO 4217 code of the invoice currency (the customer''s). Never NULL.';
COMMENT ON COLUMN invoice_lines.event_count IS 'Billed records aggregated into the line, each counted once; for max and unique_count too, not only the records that set the quantity. Never NULL.';

-- usage_events -------------------------------------------------------------------------------------
COMMENT ON TABLE usage_events IS 'One row per usage line of every raw record, whatever became of it: one line per record for samplehc, tula and sequence, one per property of a paygentic event (a quarantined paygentic event has one, property 0). A record''s outcome, reason and detail repeat on each of its lines. A column the pipeline had not read when it decided the record is NULL.';
COMMENT ON COLUMN usage_events.source IS 'Vendor the record came from: samplehc, tula, sequence or paygentic. Never NULL.';
COMMENT ON COLUMN usage_events.source_file IS 'Dump file, relative to the raw directory with / separators (e.g. samplehc/2026-10/part-1.jsonl.gz). Never NULL.';
COMMENT ON COLUMN usage_events.line_number IS 'Line of the record in the dump file, counting from 1; blank lines are counted. Never NULL.';
COMMENT ON COLUMN usage_events.record_index IS 'Index of the event in a paygentic batch (body.events), from 0; 0 for the other sources. Never NULL.';
COMMENT ON COLUMN usage_events.property_index IS 'Index of the paygentic property within its event, from 0; 0 for the other sources. Every record has a line with property_index = 0: filter on it for one row per record. Never NULL.';
COMMENT ON COLUMN usage_events.record_id IS 'The record: source_file:line_number:record_index, shared by all its usage lines. Never NULL.';
COMMENT ON COLUMN usage_events.customer_key IS 'The vendor''s customer key: samplehc account, tula clientName (from the path), sequence customerAlias, paygentic customerId. NULL when the record was quarantined before it was read.';
COMMENT ON COLUMN usage_events.customer_id IS 'Customer the key maps to in customer_keys.csv, looked up whatever the outcome. NULL when the key is not there (unknown_customer, or e.g. a voided record of an unknown key) or was not read.';
COMMENT ON COLUMN usage_events.event_type IS 'The vendor''s event type: samplehc eventSlug, tula eventTypeId, sequence eventType, paygentic billableMetricId of the property. NULL when not read.';
COMMENT ON COLUMN usage_events.metric_id IS 'Metric the meter (meters.csv) maps the source and event type to, looked up whatever the outcome. NULL when there is no such meter (unmetered) or the event type was not read.';
COMMENT ON COLUMN usage_events.aggregation IS 'The metric''s aggregation: sum, count, max or unique_count. NULL without a metric.';
COMMENT ON COLUMN usage_events.occurred_at IS 'Instant the usage happened, to the microsecond: samplehc occurredAt (else receivedAt), tula eventDateTime, sequence eventTimestamp (else receivedAt), paygentic timestamp. NULL when not read.';
COMMENT ON COLUMN usage_events.received_at IS 'receivedAt of the envelope: when the request reached the capture point, to the microsecond. Records are ordered by it, then source_file, line_number, record_index. NULL when the line has no valid receivedAt.';
COMMENT ON COLUMN usage_events.local_date IS 'Date of occurred_at in the customer''s time zone; picks the price book row. NULL without a customer or occurred_at.';
COMMENT ON COLUMN usage_events.period_start IS 'Billing month of the line: the first day of the month that contains local_date. NULL without a customer or occurred_at, or when that month is outside 0001-01 to 9999-12 (the record is quarantined invalid_value).';
COMMENT ON COLUMN usage_events.quantity IS 'The line''s metered value, exact: the posted quantity or the meter''s property value; 1 for a count meter. NULL for unique_count metrics (see distinct_value), and when no value was read (a line not parsed, a sequence event without a meter).';
COMMENT ON COLUMN usage_events.distinct_value IS 'For unique_count metrics only, the value counted: string:<text> or number:<decimal>, so "1" and 1 differ and 1 and 1.0 do not. NULL for other metrics.';
COMMENT ON COLUMN usage_events.unit_price IS 'Price per unit in the customer''s currency, in major units, exact. Set on billed lines only; NULL for every other outcome.';
COMMENT ON COLUMN usage_events.price_source IS 'Where unit_price came from: event (the event carried a price) or price_book (prices.csv). NULL unless billed.';
COMMENT ON COLUMN usage_events.price_model IS 'per_unit (unit_price prices the line), or graduated, volume or package: the price row effective on the month''s first day rates the month''s quantity as a whole, and unit_price is NULL. NULL unless billed.';
COMMENT ON COLUMN usage_events.currency IS 'ISO 4217 code of the customer''s currency. NULL without a customer.';
COMMENT ON COLUMN usage_events.outcome IS 'What became of the record, one outcome per record (on each of its lines): billed, duplicate, superseded, voided, rejected_by_vendor, unmetered or quarantined. Never NULL.';
COMMENT ON COLUMN usage_events.reason IS 'Why the record was quarantined: invalid_json, invalid_envelope, schema_violation, invalid_value, unknown_status, unknown_customer or no_price. NULL for every outcome but quarantined.';
COMMENT ON COLUMN usage_events.detail IS 'Readable explanation of an outcome other than billed: the failing field, the unknown key or status, which kind of duplicate, the meter that is missing. NULL for billed records.';
COMMENT ON COLUMN usage_events.decided_by IS 'record_id of the record that decided this one: for a re-delivery the earlier identical line, for a reused idempotency key its first record, for a superseded event the winning version. NULL otherwise, also for a duplicate the vendor flagged itself (idempotentReplay).';
COMMENT ON COLUMN usage_events.invoice_id IS 'Invoice the line is billed on (invoices.invoice_id). NULL unless outcome = billed.';
COMMENT ON COLUMN usage_events.dedup_key IS 'Idempotency key of the record as a JSON array, the scope first: samplehc [account, idempotency-key header], paygentic [merchantId, idempotencyKey]. Later records with the same key are duplicates of the first one standing. NULL for the other sources and without a key.';
COMMENT ON COLUMN usage_events.version_key IS 'Identity of the event whose versions compete, as a JSON array: tula [clientName, billingEventGuid in lower case], sequence [account, customerEventId]. One version wins, the others are superseded. NULL for the other sources and without an event id.';
COMMENT ON COLUMN usage_events.status IS 'tula status name (invoiceBillingEventStatusId; Unknown when absent); statuses.csv says whether it bills or voids. NULL for the other sources and when not read.';
COMMENT ON COLUMN usage_events.member IS 'tula memberUniqueKey: the member the event is for. NULL for the other sources and when absent.';

-- quarantine ---------------------------------------------------------------------------------------
COMMENT ON VIEW quarantine IS 'One row per quarantined record (outcome quarantined in usage_events), with the reason and the raw line it came from: quarantine_records joined with quarantine_lines.';
COMMENT ON COLUMN quarantine.source IS 'Vendor the record came from: samplehc, tula, sequence or paygentic. Never NULL.';
COMMENT ON COLUMN quarantine.source_file IS 'Dump file, relative to the raw directory with / separators. Never NULL.';
COMMENT ON COLUMN quarantine.line_number IS 'Line of the record in the dump file, counting from 1; blank lines are counted. Never NULL.';
COMMENT ON COLUMN quarantine.record_index IS 'Index of the event in a paygentic batch, from 0; 0 for the other sources. Never NULL.';
COMMENT ON COLUMN quarantine.reason IS 'Why it cannot be billed: invalid_json, invalid_envelope, schema_violation, invalid_value, unknown_status, unknown_customer or no_price. Never NULL.';
COMMENT ON COLUMN quarantine.detail IS 'Readable explanation: the failing field or rule, the unknown customer key or status, the metric without a price. Never NULL.';
COMMENT ON COLUMN quarantine.raw IS 'The dump line as read (a whole paygentic batch for each of its events), with the values of credential headers (authorization, proxy-authorization, cookie, set-cookie, x-api-key) replaced by "[REDACTED]". Never NULL.';

COMMENT ON TABLE quarantine_records IS 'One row per quarantined record: the quarantine view without the raw line.';
COMMENT ON COLUMN quarantine_records.source IS 'Vendor the record came from: samplehc, tula, sequence or paygentic. Never NULL.';
COMMENT ON COLUMN quarantine_records.source_file IS 'Dump file, relative to the raw directory with / separators. Never NULL.';
COMMENT ON COLUMN quarantine_records.line_number IS 'Line of the record in the dump file, counting from 1; blank lines are counted. Never NULL.';
COMMENT ON COLUMN quarantine_records.record_index IS 'Index of the event in a paygentic batch, from 0; 0 for the other sources. Never NULL.';
COMMENT ON COLUMN quarantine_records.reason IS 'Why it cannot be billed: invalid_json, invalid_envelope, schema_violation, invalid_value, unknown_status, unknown_customer or no_price. Never NULL.';
COMMENT ON COLUMN quarantine_records.detail IS 'Readable explanation: the failing field or rule, the unknown customer key or status, the metric without a price. Never NULL.';
COMMENT ON TABLE quarantine_lines IS 'One row per dump line with at least one quarantined record: its raw line, stored once however many of its events were quarantined.';
COMMENT ON COLUMN quarantine_lines.source IS 'Vendor of the line: samplehc, tula, sequence or paygentic. Never NULL.';
COMMENT ON COLUMN quarantine_lines.source_file IS 'Dump file, relative to the raw directory with / separators. Never NULL.';
COMMENT ON COLUMN quarantine_lines.line_number IS 'Line in the dump file, counting from 1; blank lines are counted. Never NULL.';
COMMENT ON COLUMN quarantine_lines.raw IS 'The dump line as read, with the values of credential headers (authorization, proxy-authorization, cookie, set-cookie, x-api-key) replaced by "[REDACTED]". Never NULL.';

-- reconciliation -----------------------------------------------------------------------------------
COMMENT ON TABLE reconciliation IS 'One row per source (all four, also without records): every raw record counted once, under its one outcome. records equals the sum of the outcome columns, always.';
COMMENT ON COLUMN reconciliation.source IS 'Vendor: samplehc, tula, sequence or paygentic. Never NULL.';
COMMENT ON COLUMN reconciliation.records IS 'Raw records of the source (a paygentic event is one record). Never NULL.';
COMMENT ON COLUMN reconciliation.billed IS 'Records priced and on an invoice. Never NULL.';
COMMENT ON COLUMN reconciliation.duplicate IS 'Records that re-send an earlier one: reused idempotency key, vendor replay, or an identical line. Never NULL.';
COMMENT ON COLUMN reconciliation.superseded IS 'Records replaced by a later version of the same event. Never NULL.';
COMMENT ON COLUMN reconciliation.voided IS 'Records whose winning version cancels the event. Never NULL.';
COMMENT ON COLUMN reconciliation.rejected_by_vendor IS 'Records the captured response says the vendor did not record. Never NULL.';
COMMENT ON COLUMN reconciliation.unmetered IS 'Valid records of an event type without a meter (not billable). Never NULL.';
COMMENT ON COLUMN reconciliation.quarantined IS 'Records that cannot be billed as they stand (see quarantine). Never NULL.';

-- customers ----------------------------------------------------------------------------------------
COMMENT ON TABLE customers IS 'One row per customer of customers.csv (the reference data of the run that published this file): what an invoice document shows of its customer. The documents tally run writes are rendered from this file alone: this table, invoices and invoice_lines.';
COMMENT ON COLUMN customers.customer_id IS 'Customer id (customer_id of customers.csv), as in invoices.customer_id. Unique. Never NULL.';
COMMENT ON COLUMN customers.name IS 'Customer name as invoice documents show it. Never NULL.';
COMMENT ON COLUMN customers.timezone IS 'IANA time zone of the customer''s billing months (UTC when customers.csv leaves it blank). Never NULL.';
COMMENT ON COLUMN customers.address IS 'Postal address as documents show it (customers.csv, optional; may span lines). NULL when not given.';
COMMENT ON COLUMN customers.tax_id IS 'Tax id as documents show it (customers.csv, optional). NULL when not given.';
-- documents (SPEC §7) ---------------------------------------------------------------------------------
COMMENT ON TABLE documents IS 'One row per billing document: every issued invoice, credit note and debit note (never changed once issued), the pending adjustment (status draft) of a closed month whose figures changed since, and the draft invoice of every month not closed (its document_number is the invoice_id of invoices).';
COMMENT ON COLUMN documents.document_number IS 'Issued: <prefix>-<yyyy>-<n>, gapless per prefix and issue year. Draft: INV-<yyyymm>-<customer_id> for an invoice, ADJ-<yyyymm>-<customer_id> for a pending note; a close replaces it with a number. Unique. Never NULL.';
COMMENT ON COLUMN documents.kind IS 'invoice, credit_note (a pending or issued correction with a negative total) or debit_note. Never NULL.';
COMMENT ON COLUMN documents.status IS 'issued (numbered, frozen, its PDF written once under <documents-dir>/issued/) or draft (recomputed by every run). Never NULL.';
COMMENT ON COLUMN documents.customer_id IS 'Customer of the document (customer_id of customers.csv). Never NULL.';
COMMENT ON COLUMN documents.period_start IS 'First day of the service period, the billing month in the customer''s time zone. Never NULL.';
COMMENT ON COLUMN documents.period_end IS 'Day after the service period''s last day (exclusive). Never NULL.';
COMMENT ON COLUMN documents.currency IS 'ISO 4217 code of every amount of the document. Never NULL.';
COMMENT ON COLUMN documents.issue_date IS 'Issue date, from the close that issued it. NULL for drafts.';
COMMENT ON COLUMN documents.due_date IS 'Issue date plus the issuer''s payment_terms_days. NULL for drafts.';
COMMENT ON COLUMN documents.corrects IS 'For a credit or debit note: the number of the invoice of the same customer and month it corrects. NULL for invoices.';
COMMENT ON COLUMN documents.total IS 'Sum of the document''s line amounts, in the currency''s minor unit; negative for a credit note. Never NULL.';
COMMENT ON COLUMN documents.sha256 IS 'sha256 of the issued PDF''s bytes (also in <documents-dir>/issued/documents.sha256). NULL for drafts.';
COMMENT ON COLUMN documents.issuer_name IS 'Issuer as issuer.csv of the close''s reference copy named it. NULL for drafts.';
COMMENT ON COLUMN documents.issuer_address IS 'Issuer address as issued. NULL for drafts and when not given.';
COMMENT ON COLUMN documents.issuer_tax_id IS 'Issuer tax id as issued. NULL for drafts and when not given.';
COMMENT ON COLUMN documents.customer_name IS 'Customer name as the document shows it (issued: as the close''s reference copy had it). Never NULL.';
COMMENT ON COLUMN documents.customer_address IS 'Customer address as the document shows it. NULL when not given.';
COMMENT ON COLUMN documents.customer_tax_id IS 'Customer tax id as the document shows it. NULL when not given.';
COMMENT ON TABLE document_lines IS 'One row per line of a document, keyed (metric_id, kind, tier, unit_price). A note''s line holds the differences: recomputed minus everything issued for its customer, month and key.';
COMMENT ON COLUMN document_lines.document_number IS 'Document of the line (documents.document_number). Never NULL.';
COMMENT ON COLUMN document_lines.metric_id IS 'Billable metric (metric_id of meters.csv). Never NULL.';
COMMENT ON COLUMN document_lines.kind IS 'Line kind: usage for per-unit usage. Never NULL.';
COMMENT ON COLUMN document_lines.tier IS 'Tier of a tiered price. NULL for per-unit usage.';
COMMENT ON COLUMN document_lines.unit_price IS 'Unit price, exact. Never NULL.';
COMMENT ON COLUMN document_lines.quantity IS 'Quantity, exact; on a note the difference (may be negative). Never NULL.';
COMMENT ON COLUMN document_lines.amount IS 'Amount in the currency''s minor unit; on a note, the recomputed amount minus the issued amounts, each rounded half-to-even first. Never NULL.';
COMMENT ON COLUMN document_lines.description IS 'The line in the words the document shows (tiers, packages, fees, the minimum), as invoice_lines.description.';
COMMENT ON COLUMN document_lines.event_count IS 'Distinct records behind the line; on a note the difference. Never NULL.';
COMMENT ON TABLE document_line_records IS 'Lineage of issued documents and pending adjustments: one row per record behind a line. An invoice line lists its billed records (billed); a note''s line the records whose addition (added) or removal (removed: voided, superseded, repriced, moved) made it, or all of them (kept) when only their figures changed. Draft invoices of open months lead to their records through usage_events.invoice_id.';
COMMENT ON COLUMN document_line_records.document_number IS 'Document of the line. Never NULL.';
COMMENT ON COLUMN document_line_records.metric_id IS 'Line key: metric. Never NULL.';
COMMENT ON COLUMN document_line_records.kind IS 'Line key: kind. Never NULL.';
COMMENT ON COLUMN document_line_records.tier IS 'Line key: tier. NULL for per-unit usage.';
COMMENT ON COLUMN document_line_records.unit_price IS 'Line key: unit price. Never NULL.';
COMMENT ON COLUMN document_line_records.source_file IS 'Dump file of the record, relative to the raw folder. Never NULL.';
COMMENT ON COLUMN document_line_records.line_number IS 'Line of the record in its file, from 1. Never NULL.';
COMMENT ON COLUMN document_line_records.record_index IS 'Index of the record in a paygentic batch, else 0. Never NULL.';
COMMENT ON COLUMN document_line_records.change IS 'billed, added, removed or kept (see the table comment). Never NULL.';

-- revenue_month_over_month -------------------------------------------------------------------------
COMMENT ON VIEW revenue_month_over_month IS 'One row per customer × currency × month, from the customer''s first invoiced month to the newest invoiced month in the warehouse, with the previous month''s total and the change. A month without an invoice counts as 0, so for each currency and month sum(change) is that month''s revenue minus the previous month''s.';
COMMENT ON COLUMN revenue_month_over_month.customer_id IS 'Customer (customer_id of customers.csv). Never NULL.';
COMMENT ON COLUMN revenue_month_over_month.currency IS 'ISO 4217 code of the invoices'' currency; total, previous_total and change are in it. Never NULL.';
COMMENT ON COLUMN revenue_month_over_month.period_start IS 'First day of the billing month. Never NULL.';
COMMENT ON COLUMN revenue_month_over_month.invoice_id IS 'The month''s invoice. NULL when the customer has no invoice that month.';
COMMENT ON COLUMN revenue_month_over_month.total IS 'The invoice total, rounded to the currency''s minor unit; 0 without an invoice. Never NULL.';
COMMENT ON COLUMN revenue_month_over_month.previous_total IS 'Total of the previous calendar month; 0 without an invoice then, and in the customer''s first month. Never NULL.';
COMMENT ON COLUMN revenue_month_over_month.change IS 'total - previous_total, exact: positive when revenue grew. Never NULL.';

-- billed_usage_by_metric ---------------------------------------------------------------------------
COMMENT ON VIEW billed_usage_by_metric IS 'One row per metric × billing month × currency with billed usage, summed over the invoice lines of all customers.';
COMMENT ON COLUMN billed_usage_by_metric.metric_id IS 'Billable metric (metric_id of meters.csv). Never NULL.';
COMMENT ON COLUMN billed_usage_by_metric.aggregation IS 'The metric''s aggregation: sum, count, max or unique_count. Never NULL.';
COMMENT ON COLUMN billed_usage_by_metric.period_start IS 'First day of the billing month. Never NULL.';
COMMENT ON COLUMN billed_usage_by_metric.currency IS 'ISO 4217 code of the invoices; amount is in it. Never NULL.';
COMMENT ON COLUMN billed_usage_by_metric.customers IS 'Customers invoiced for the metric that month. Never NULL.';
COMMENT ON COLUMN billed_usage_by_metric.invoice_lines IS 'Invoice lines summed (one per customer and unit price). Never NULL.';
COMMENT ON COLUMN billed_usage_by_metric.events IS 'Sum of the lines'' event_count: billed records, a record counted once per line it is on. Never NULL.';
COMMENT ON COLUMN billed_usage_by_metric.quantity IS 'Sum of the lines'' quantities, exact: the billed usage for sum and count metrics; for max and unique_count the sum of each customer''s monthly maximum or distinct count. NULL only where the sum does not fit DECIMAL(38, 18).';
COMMENT ON COLUMN billed_usage_by_metric.amount IS 'Sum of the lines'' amounts, in the currency (each already rounded to its minor unit). NULL only where the sum does not fit DECIMAL(38, 4).';

-- quarantine_reasons -------------------------------------------------------------------------------
COMMENT ON VIEW quarantine_reasons IS 'One row per source × quarantine reason that occurs: how many records, and the first one (in file, line and index order) as an example.';
COMMENT ON COLUMN quarantine_reasons.source IS 'Vendor: samplehc, tula, sequence or paygentic. Never NULL.';
COMMENT ON COLUMN quarantine_reasons.reason IS 'Quarantine reason: invalid_json, invalid_envelope, schema_violation, invalid_value, unknown_status, unknown_customer or no_price. Never NULL.';
COMMENT ON COLUMN quarantine_reasons.records IS 'Quarantined records of the source with this reason. Never NULL.';
COMMENT ON COLUMN quarantine_reasons.files IS 'Dump files those records come from. Never NULL.';
COMMENT ON COLUMN quarantine_reasons.example_record_id IS 'record_id (source_file:line_number:record_index) of the first such record; its raw line is in quarantine. Never NULL.';
COMMENT ON COLUMN quarantine_reasons.example_detail IS 'detail of that record. Never NULL.';

-- invoice_line_records -----------------------------------------------------------------------------
COMMENT ON VIEW invoice_line_records IS 'Lineage from invoice lines to raw records: one row per billed usage line, with the invoice line it is on (invoice_id, metric_id, unit_price). The rows of an invoice line hold its event_count distinct records; their quantities add up to its quantity for sum and count metrics, their largest is it for max, and their distinct distinct_value count is it for unique_count.';
COMMENT ON COLUMN invoice_line_records.invoice_id IS 'Invoice of the line (invoices.invoice_id). Never NULL.';
COMMENT ON COLUMN invoice_line_records.customer_id IS 'Customer invoiced. Never NULL.';
COMMENT ON COLUMN invoice_line_records.period_start IS 'First day of the billing month. Never NULL.';
COMMENT ON COLUMN invoice_line_records.metric_id IS 'Metric of the invoice line. Never NULL.';
COMMENT ON COLUMN invoice_line_records.unit_price IS 'Unit price of this usage line (that of its invoice line), in major units of the currency, exact. NULL when a graduated, volume or package row rates the month (see tier).';
COMMENT ON COLUMN invoice_line_records.aggregation IS 'The metric''s aggregation: sum, count, max or unique_count; says how the rows make line_quantity. NULL only if the line were missing from invoice_lines.';
COMMENT ON COLUMN invoice_line_records.currency IS 'ISO 4217 code of the invoice currency. Never NULL.';
COMMENT ON COLUMN invoice_line_records.line_quantity IS 'invoice_lines.quantity: the aggregate of all rows of the line, repeated on each. NULL only if the line were missing.';
COMMENT ON COLUMN invoice_line_records.line_amount IS 'invoice_lines.amount, in the invoice currency rounded to its minor unit, repeated on each row. NULL only if the line were missing.';
COMMENT ON COLUMN invoice_line_records.line_event_count IS 'invoice_lines.event_count: distinct records of the line, repeated on each row. NULL only if the line were missing.';
COMMENT ON COLUMN invoice_line_records.record_id IS 'The raw record: source_file:line_number:record_index (see record_outcomes). Never NULL.';
COMMENT ON COLUMN invoice_line_records.source IS 'Vendor the record came from. Never NULL.';
COMMENT ON COLUMN invoice_line_records.source_file IS 'Dump file, relative to the raw directory with / separators. Never NULL.';
COMMENT ON COLUMN invoice_line_records.line_number IS 'Line of the record in the dump file, counting from 1. Never NULL.';
COMMENT ON COLUMN invoice_line_records.record_index IS 'Index of the event in a paygentic batch, from 0; 0 for the other sources. Never NULL.';
COMMENT ON COLUMN invoice_line_records.property_index IS 'Index of the paygentic property, from 0; 0 for the other sources. Never NULL.';
COMMENT ON COLUMN invoice_line_records.customer_key IS 'The vendor''s customer key the record carried. Never NULL.';
COMMENT ON COLUMN invoice_line_records.event_type IS 'The vendor''s event type the meter mapped to the metric. Never NULL.';
COMMENT ON COLUMN invoice_line_records.occurred_at IS 'Instant the usage happened, to the microsecond. Never NULL.';
COMMENT ON COLUMN invoice_line_records.local_date IS 'Date of occurred_at in the customer''s time zone (it picked the price book row). Never NULL.';
COMMENT ON COLUMN invoice_line_records.quantity IS 'The record''s metered value on this line, exact; 1 for count metrics. NULL for unique_count metrics (see distinct_value).';
COMMENT ON COLUMN invoice_line_records.distinct_value IS 'For unique_count metrics, the value counted (string:<text> or number:<decimal>). NULL for other metrics.';
COMMENT ON COLUMN invoice_line_records.price_source IS 'Where the unit price came from: event or price_book. Never NULL.';
COMMENT ON COLUMN invoice_line_records.kind IS 'Kind of the invoice line: usage (a record is behind usage lines only). NULL only if the line were missing.';
COMMENT ON COLUMN invoice_line_records.tier IS 'Tier of the invoice line. A graduated month has a row per record and tier line: which records fall in which tier is not meaningful, every record of the month''s aggregate stands behind each tier. NULL outside tiers.';
COMMENT ON COLUMN invoice_line_records.price_model IS 'Model of the record''s price: per_unit, graduated, volume or package. Never NULL.';

-- record_outcomes ----------------------------------------------------------------------------------
COMMENT ON VIEW record_outcomes IS 'Lineage from raw records to outcomes: one row per raw record (its row count equals the sum of reconciliation.records), with what became of it and why, the keys that decided it, the record that decided a duplicate or superseded one and that record''s own outcome, and the invoice it is billed on.';
COMMENT ON COLUMN record_outcomes.record_id IS 'The record: source_file:line_number:record_index. Unique. Never NULL.';
COMMENT ON COLUMN record_outcomes.source IS 'Vendor the record came from: samplehc, tula, sequence or paygentic. Never NULL.';
COMMENT ON COLUMN record_outcomes.source_file IS 'Dump file, relative to the raw directory with / separators. Never NULL.';
COMMENT ON COLUMN record_outcomes.line_number IS 'Line of the record in the dump file, counting from 1; blank lines are counted. Never NULL.';
COMMENT ON COLUMN record_outcomes.record_index IS 'Index of the event in a paygentic batch, from 0; 0 for the other sources. Never NULL.';
COMMENT ON COLUMN record_outcomes.usage_lines IS 'Usage lines of the record in usage_events: the properties of a paygentic event, else 1 (a quarantined paygentic event has 1). Never NULL.';
COMMENT ON COLUMN record_outcomes.event_types IS 'Event type of each usage line, in property order; an entry is NULL where it was not read. Never NULL.';
COMMENT ON COLUMN record_outcomes.metric_ids IS 'Metric of each usage line, in property order; an entry is NULL where there is no meter or the event type was not read. Never NULL.';
COMMENT ON COLUMN record_outcomes.customer_key IS 'The vendor''s customer key. NULL when the record was quarantined before it was read.';
COMMENT ON COLUMN record_outcomes.customer_id IS 'Customer the key maps to in customer_keys.csv. NULL when the key is not there or was not read.';
COMMENT ON COLUMN record_outcomes.occurred_at IS 'Instant the usage happened, to the microsecond. NULL when not read.';
COMMENT ON COLUMN record_outcomes.received_at IS 'When the request reached the capture point; records are ordered by it, then source_file, line_number, record_index. NULL when the line has no valid receivedAt.';
COMMENT ON COLUMN record_outcomes.local_date IS 'Date of occurred_at in the customer''s time zone; it picks the price book row and the billing month. NULL without a customer or occurred_at.';
COMMENT ON COLUMN record_outcomes.period_start IS 'Billing month the record falls in. NULL without a customer or occurred_at, or when that month is outside 0001-01 to 9999-12 (the record is quarantined invalid_value).';
COMMENT ON COLUMN record_outcomes.outcome IS 'What became of the record: billed, duplicate, superseded, voided, rejected_by_vendor, unmetered or quarantined. Never NULL.';
COMMENT ON COLUMN record_outcomes.reason IS 'Quarantine reason: invalid_json, invalid_envelope, schema_violation, invalid_value, unknown_status, unknown_customer or no_price. NULL for every outcome but quarantined.';
COMMENT ON COLUMN record_outcomes.detail IS 'Readable explanation of the outcome. NULL for billed records.';
COMMENT ON COLUMN record_outcomes.status IS 'tula status name, which statuses.csv says bills or voids. NULL for the other sources and when not read.';
COMMENT ON COLUMN record_outcomes.member IS 'tula memberUniqueKey: the member the event is for. NULL for the other sources and when absent.';
COMMENT ON COLUMN record_outcomes.dedup_key IS 'Idempotency key, JSON array (samplehc [account, idempotency-key], paygentic [merchantId, idempotencyKey]). NULL for the other sources and without a key.';
COMMENT ON COLUMN record_outcomes.version_key IS 'Identity of the versioned event, JSON array (tula [clientName, billingEventGuid], sequence [account, customerEventId]). NULL for the other sources and without an event id.';
COMMENT ON COLUMN record_outcomes.decided_by IS 'record_id of the record that decided this one: the earlier identical line (re-delivery), the first record of the idempotency key, or the winning version. NULL otherwise, also for a vendor-flagged replay.';
COMMENT ON COLUMN record_outcomes.decided_by_outcome IS 'Outcome of the decided_by record; it can itself be a duplicate or superseded (follow its decided_by). NULL without decided_by.';
COMMENT ON COLUMN record_outcomes.decided_by_invoice_id IS 'Invoice the decided_by record is billed on. NULL unless that record is billed.';
COMMENT ON COLUMN record_outcomes.invoice_id IS 'Invoice the record is billed on (all its usage lines are on the same one). NULL unless outcome = billed.';
