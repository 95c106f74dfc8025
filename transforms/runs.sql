-- One row per `tally run`: when, whether it succeeded, and what it did. Written by the command line at
-- the end of each run; `tally status` shows the newest.
CREATE TABLE IF NOT EXISTS run_log (
    run_number       BIGINT PRIMARY KEY,
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ NOT NULL,
    succeeded        BOOLEAN NOT NULL,
    files_loaded     BIGINT NOT NULL,     -- dump files loaded by this run (new bytes)
    lines_loaded     BIGINT NOT NULL,     -- their non-blank lines
    resolution       VARCHAR NOT NULL,    -- 'full rebuild', 'changed lines' or 'nothing new'
    months           DATE[] NOT NULL,     -- billing months whose invoices it rebuilt
    invoices_written BIGINT NOT NULL,
    published        BOOLEAN NOT NULL,    -- whether it replaced the published warehouse
    message          VARCHAR              -- why it failed
);
