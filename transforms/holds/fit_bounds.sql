-- What bounds every invoice figure of the months `?` (`transforms.holds.may_not_fit`): the billed and held
-- usage lines, their largest quantity and unit price, and the held lines; the largest price, tier price
-- and flat fee of the reference data, and the number of tiers.
SELECT
    count(*) AS lines,
    coalesce(max(quantity), 0) AS largest_quantity,
    greatest(coalesce(max(unit_price), 0),
             (SELECT coalesce(max(unit_price), 0) FROM ref_prices),
             (SELECT coalesce(max(unit_price), 0) FROM ref_price_tiers)) AS largest_price,
    (SELECT coalesce(max(flat_fee), 0) FROM ref_price_tiers) AS largest_fee,
    (SELECT count(*) FROM ref_price_tiers) AS tiers,
    count(*) FILTER (WHERE outcome = 'quarantined') AS held_lines
FROM int_priced_usage
WHERE invoice_id IS NOT NULL AND list_contains(?, period_start)
