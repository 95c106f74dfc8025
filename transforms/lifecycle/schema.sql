-- The invoice lifecycle (SPEC §7): what was issued, which is never updated or deleted, only added to.
-- The closes whose documents are issued: one row per close file, added with its documents.
CREATE TABLE IF NOT EXISTS lc_closes (
    month         DATE PRIMARY KEY,
    issue_date    DATE NOT NULL,
    close_sha256  VARCHAR NOT NULL
);
-- Every issued document, with the issuer and customer details it shows (as the close's reference had them).
CREATE TABLE IF NOT EXISTS lc_issued (
    document_number  VARCHAR PRIMARY KEY,
    kind             VARCHAR NOT NULL,
    customer_id      VARCHAR NOT NULL,
    period_start     DATE NOT NULL,
    period_end       DATE NOT NULL,
    currency         VARCHAR NOT NULL,
    issue_date       DATE NOT NULL,
    due_date         DATE NOT NULL,
    corrects         VARCHAR,
    total            DECIMAL(38, 4) NOT NULL,
    sha256           VARCHAR NOT NULL,
    issuer_name      VARCHAR NOT NULL,
    issuer_address   VARCHAR,
    issuer_tax_id    VARCHAR,
    customer_name    VARCHAR NOT NULL,
    customer_address VARCHAR,
    customer_tax_id  VARCHAR,
    number_prefix    VARCHAR NOT NULL,
    issue_year       INTEGER NOT NULL,
    sequence         INTEGER NOT NULL,
    close_month      DATE NOT NULL
);
CREATE TABLE IF NOT EXISTS lc_issued_lines (
    document_number VARCHAR NOT NULL,
    customer_id     VARCHAR NOT NULL,
    period_start    DATE NOT NULL,
    metric_id       VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,
    tier            INTEGER,
    unit_price      DECIMAL(38, 18) NOT NULL,
    quantity        DECIMAL(38, 18) NOT NULL,
    amount          DECIMAL(38, 4) NOT NULL,
    event_count     BIGINT NOT NULL,
    description     VARCHAR  -- the line in a customer's words (tiers, packages, fees, the minimum)
);
-- Lineage of issued lines: the records behind an invoice line ('billed'), and those whose addition,
-- removal or new price made a note's line ('added', 'removed'; 'kept' when the records are the same
-- and only their figures changed).
CREATE TABLE IF NOT EXISTS lc_issued_records (
    document_number VARCHAR NOT NULL,
    metric_id       VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,
    tier            INTEGER,
    unit_price      DECIMAL(38, 18) NOT NULL,
    source_file     VARCHAR NOT NULL,
    line_number     BIGINT NOT NULL,
    record_index    INTEGER NOT NULL,
    change          VARCHAR NOT NULL
);
-- How many times the lifecycle tables were rewritten: the audit marker of their checks, and what tells
-- publishing that the documents changed.
CREATE TABLE IF NOT EXISTS lc_writes (writes BIGINT NOT NULL, published BIGINT NOT NULL);
INSERT INTO lc_writes SELECT 0, 0 WHERE NOT EXISTS (SELECT 1 FROM lc_writes);
-- The published lifecycle tables (SPEC §7), rewritten by every run from the tables above and the invoices.
CREATE TABLE IF NOT EXISTS documents (
    document_number  VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,
    customer_id      VARCHAR NOT NULL,
    period_start     DATE NOT NULL,
    period_end       DATE NOT NULL,
    currency         VARCHAR NOT NULL,
    issue_date       DATE,
    due_date         DATE,
    corrects         VARCHAR,
    total            DECIMAL(38, 4) NOT NULL,
    sha256           VARCHAR,
    issuer_name      VARCHAR,
    issuer_address   VARCHAR,
    issuer_tax_id    VARCHAR,
    customer_name    VARCHAR,
    customer_address VARCHAR,
    customer_tax_id  VARCHAR
);
CREATE TABLE IF NOT EXISTS document_lines AS
SELECT * EXCLUDE (customer_id, period_start) FROM lc_issued_lines LIMIT 0;
CREATE TABLE IF NOT EXISTS document_line_records AS SELECT * FROM lc_issued_records LIMIT 0;
