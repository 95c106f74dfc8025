-- Every staged usage line of every source, with its source.
CREATE OR REPLACE VIEW staged_lines AS
          SELECT 'samplehc'  AS source, * FROM stg_samplehc
UNION ALL SELECT 'tula'      AS source, * FROM stg_tula
UNION ALL SELECT 'sequence'  AS source, * FROM stg_sequence
UNION ALL SELECT 'paygentic' AS source, * FROM stg_paygentic;

CREATE OR REPLACE VIEW raw_lines AS
          SELECT 'samplehc'  AS source, * FROM raw_samplehc
UNION ALL SELECT 'tula'      AS source, * FROM raw_tula
UNION ALL SELECT 'sequence'  AS source, * FROM raw_sequence
UNION ALL SELECT 'paygentic' AS source, * FROM raw_paygentic;
