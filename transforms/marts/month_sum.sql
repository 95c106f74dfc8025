-- `month_sum(q)`: an invoice line's sum of quantities (`invoice_lines.sql`). DuckDB's own sum, which
-- raises when the sum passes DECIMAL(38, 18); the months are then summed with `month_sum_unbounded.sql`.
CREATE OR REPLACE TEMP MACRO month_sum(q) AS sum(q);
