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
