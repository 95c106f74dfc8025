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
-- Every dump file the last run found, with its stamp when its bytes were last hashed: a file whose size,
-- mtime, ctime and inode are unchanged has the same bytes (files are immutable, SPEC §1) and is not read
-- again.
CREATE TABLE IF NOT EXISTS raw_file_hashes (
    path         VARCHAR PRIMARY KEY,
    byte_size    BIGINT  NOT NULL,
    mtime_ns     BIGINT  NOT NULL,
    ctime_ns     BIGINT  NOT NULL,
    inode        BIGINT  NOT NULL,
    file_sha256  VARCHAR NOT NULL
);
-- The entries of the raw folder that the latest load refused (SPEC §1 "Refused files"): a loaded path that
-- now holds other bytes, a file or folder that cannot be read whole. Replaced by every load; read by the
-- run summary, `tally status` and the raw assets' files_readable check.
CREATE TABLE IF NOT EXISTS raw_refused_files (
    source_file  VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL,
    refused_at   TIMESTAMPTZ NOT NULL
);
