-- The raw layer: every dump file loaded once (by sha256), and its lines as captured, credentials redacted.
CREATE TABLE IF NOT EXISTS raw_files (
    file_sha256  VARCHAR PRIMARY KEY,
    source       VARCHAR NOT NULL,
    source_file  VARCHAR NOT NULL,
    byte_size    BIGINT  NOT NULL,
    line_count   BIGINT  NOT NULL,
    load_id      BIGINT  NOT NULL,
    loaded_at    TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw_samplehc  (source_file VARCHAR NOT NULL, file_sha256 VARCHAR NOT NULL, line_number BIGINT NOT NULL, envelope VARCHAR NOT NULL USING COMPRESSION zstd, utf8_valid BOOLEAN NOT NULL, load_id BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS raw_tula      (source_file VARCHAR NOT NULL, file_sha256 VARCHAR NOT NULL, line_number BIGINT NOT NULL, envelope VARCHAR NOT NULL USING COMPRESSION zstd, utf8_valid BOOLEAN NOT NULL, load_id BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS raw_sequence  (source_file VARCHAR NOT NULL, file_sha256 VARCHAR NOT NULL, line_number BIGINT NOT NULL, envelope VARCHAR NOT NULL USING COMPRESSION zstd, utf8_valid BOOLEAN NOT NULL, load_id BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS raw_paygentic (source_file VARCHAR NOT NULL, file_sha256 VARCHAR NOT NULL, line_number BIGINT NOT NULL, envelope VARCHAR NOT NULL USING COMPRESSION zstd, utf8_valid BOOLEAN NOT NULL, load_id BIGINT NOT NULL);
