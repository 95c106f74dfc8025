-- The lines of a batch of dump files (`dump_lines`, each with its file's `file_sha256`) as the raw
-- layer keeps them: credentials were redacted before they got here (`transforms/raw/redact.py`).
SELECT source_file, file_sha256, line_number, envelope, utf8_valid, ? AS load_id
FROM dump_lines
