-- Published invoice tables, written one billing period at a time.
CREATE TABLE IF NOT EXISTS invoice_lines (
    invoice_id   VARCHAR NOT NULL,
    customer_id  VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    metric_id    VARCHAR NOT NULL,
    aggregation  VARCHAR NOT NULL,
    unit_price   DECIMAL(38, 18) NOT NULL,
    quantity     DECIMAL(38, 18) NOT NULL,
    amount       DECIMAL(38, 4) NOT NULL,
    currency     VARCHAR NOT NULL,
    event_count  BIGINT NOT NULL
);
-- SPEC §8: the line's kind and tier, the model of the price that made it, and its words on a document.
ALTER TABLE invoice_lines ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'usage';
ALTER TABLE invoice_lines ADD COLUMN IF NOT EXISTS tier INTEGER;
ALTER TABLE invoice_lines ADD COLUMN IF NOT EXISTS price_model VARCHAR DEFAULT 'per_unit';
ALTER TABLE invoice_lines ADD COLUMN IF NOT EXISTS description VARCHAR;
ALTER TABLE invoice_lines ALTER COLUMN aggregation DROP NOT NULL;  -- NULL on a minimum line
CREATE TABLE IF NOT EXISTS invoices (
    invoice_id   VARCHAR NOT NULL,
    customer_id  VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    period_end   DATE NOT NULL,
    currency     VARCHAR NOT NULL,
    total        DECIMAL(38, 4) NOT NULL,
    line_count   BIGINT NOT NULL,
    event_count  BIGINT NOT NULL
);
-- How many times invoice months were rewritten, and how many of those the published file holds.
CREATE TABLE IF NOT EXISTS int_invoice_writes (writes BIGINT NOT NULL, published BIGINT NOT NULL);
INSERT INTO int_invoice_writes SELECT 0, 0 WHERE NOT EXISTS (SELECT 1 FROM int_invoice_writes);
-- sha256 of the analyst views and comments (transforms/marts/views.sql, comments.sql) the published file holds.
CREATE TABLE IF NOT EXISTS int_published_description (sha256 VARCHAR NOT NULL);
