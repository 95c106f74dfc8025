-- Step 11 line by line: the event's unit price wins and stays per unit; else the price book's
-- (`book_prices`): a per-unit price, or the model and key of the row that rates the month's quantity.
CREATE OR REPLACE TEMP VIEW priced_lines AS
SELECT l.* EXCLUDE (unit_price, price_date),
    CASE WHEN l.outcome IS NULL THEN coalesce(l.unit_price, b.book_price) END AS unit_price,
    CASE WHEN l.outcome IS NOT NULL THEN NULL
         WHEN l.unit_price IS NOT NULL THEN 'event'
         WHEN b.price_model IS NOT NULL THEN 'price_book' END AS price_source,
    CASE WHEN l.outcome IS NOT NULL THEN NULL
         WHEN l.unit_price IS NOT NULL THEN 'per_unit'
         ELSE b.price_model END AS price_model,
    CASE WHEN l.outcome IS NULL AND l.unit_price IS NULL THEN b.price_row_customer END AS price_row_customer,
    CASE WHEN l.outcome IS NULL AND l.unit_price IS NULL THEN b.price_row_from END AS price_row_from
FROM metered_lines l
LEFT JOIN book_prices b USING (metric_id, customer_id, currency, price_date, period_start);
