-- The published quarantine's two tables (the view `quarantine` joins them, `marts/views.sql`): its records,
-- and the raw line of each once, however many of its events were quarantined. Raw lines are compressed
-- with zstd, as in the raw tables.
CREATE TABLE publishing.quarantine_records (
    source       VARCHAR NOT NULL,
    source_file  VARCHAR NOT NULL,
    line_number  BIGINT  NOT NULL,
    record_index INTEGER NOT NULL,
    reason       VARCHAR NOT NULL,
    detail       VARCHAR NOT NULL
);
CREATE TABLE publishing.quarantine_lines (
    source       VARCHAR NOT NULL,
    source_file  VARCHAR NOT NULL,
    line_number  BIGINT  NOT NULL,
    raw          VARCHAR NOT NULL USING COMPRESSION zstd
);
