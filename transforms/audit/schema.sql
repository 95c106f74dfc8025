-- The audit: the latest result of every blocking check, and the data it was run on (a marker of its
-- scope, see transforms/audit/__init__.py). Publishing reads it: only what passed is published.
CREATE TABLE IF NOT EXISTS int_check_results (
    check_key      VARCHAR PRIMARY KEY,  -- '<asset key>:<check name>'
    passed         BOOLEAN NOT NULL,
    checked_marker VARCHAR NOT NULL,     -- the data the latest result is about
    passed_marker  VARCHAR,              -- the data of the latest pass (incremental checks resume there)
    detail         VARCHAR,              -- the first failing rows of a failure
    checked_at     TIMESTAMPTZ NOT NULL
);
-- Billing months rewritten since the invoice checks last all passed: re-invoiced until they do.
CREATE TABLE IF NOT EXISTS int_unchecked_periods (
    period_start DATE PRIMARY KEY
);
