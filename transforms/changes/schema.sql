-- The change log: what each resolution run recomputed, so every later layer redoes only that.
CREATE TABLE IF NOT EXISTS int_changes (
    change_id      BIGINT PRIMARY KEY,
    full_rebuild   BOOLEAN NOT NULL,
    reference_hash VARCHAR NOT NULL,
    changed_at     TIMESTAMPTZ NOT NULL
);
-- The lines (with every record and usage line on them) whose outcome a change recomputed.
CREATE TABLE IF NOT EXISTS int_changed_lines (
    change_id   BIGINT  NOT NULL,
    source      VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    line_number BIGINT  NOT NULL
);
-- Per source, the newest load whose staged lines the resolution has taken in.
CREATE TABLE IF NOT EXISTS int_resolved_loads (
    source  VARCHAR PRIMARY KEY,
    load_id BIGINT NOT NULL
);
-- Per consumer (a later layer, the publication), the newest change it has applied.
CREATE TABLE IF NOT EXISTS int_consumed_changes (
    consumer  VARCHAR PRIMARY KEY,
    change_id BIGINT NOT NULL
);
-- Billing months whose invoices no longer match the priced usage, until the invoice step rebuilds them.
CREATE TABLE IF NOT EXISTS int_stale_periods (
    period_start DATE PRIMARY KEY
);
-- Metering had a table of its own before pricing took it in (`intermediate.price_usage`): a working
-- database from then drops it, and its place in the change log.
DROP TABLE IF EXISTS int_metered_lines;
DELETE FROM int_consumed_changes WHERE consumer = 'metered_lines';
