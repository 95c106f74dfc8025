-- Published invoice tables, written one billing period at a time.
CREATE TABLE IF NOT EXISTS invoice_lines (
    invoice_id   VARCHAR NOT NULL,
    customer_id  VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    metric_id    VARCHAR NOT NULL,
    aggregation  VARCHAR,  -- NULL on a minimum line
    unit_price   DECIMAL(38, 18) NOT NULL,
    quantity     DECIMAL(38, 18) NOT NULL,
    amount       DECIMAL(38, 4) NOT NULL,
    currency     VARCHAR NOT NULL,
    event_count  BIGINT NOT NULL,
    kind         VARCHAR NOT NULL,  -- SPEC §8: usage, flat_fee or minimum
    tier         INTEGER,
    price_model  VARCHAR,
    description  VARCHAR
);
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
