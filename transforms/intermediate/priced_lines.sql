-- Step 11 line by line: the event's unit price wins, else the price book's (`book_prices`).
CREATE OR REPLACE TEMP VIEW priced_lines AS
SELECT l.* EXCLUDE (unit_price, price_date),
    CASE WHEN l.outcome IS NULL THEN coalesce(l.unit_price, b.book_price) END AS unit_price,
    CASE WHEN l.outcome IS NOT NULL THEN NULL
         WHEN l.unit_price IS NOT NULL THEN 'event'
         WHEN b.book_price IS NOT NULL THEN 'price_book' END AS price_source
FROM price_lookups l
LEFT JOIN book_prices b USING (metric_id, customer_id, currency, price_date);
