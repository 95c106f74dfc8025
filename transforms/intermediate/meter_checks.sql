-- Steps 9–10 of SPEC §2 line by line: customer, meter, local date and billing period, the metered value
-- and its problem, if any.
-- A billing month is any month of years 0001–9999 (a DATE every reader handles, Python's included); only an
-- instant within a day of the ends of RFC 3339's range, or in year 0000, can fall outside them locally
-- (0001-01-01T00:00Z is 31 December 1 BC in New York): `invalid_value`, never a failed run.
CREATE OR REPLACE TEMP MACRO billing_month(tz, instant) AS date_trunc('month', timezone(tz, instant))::DATE;
CREATE OR REPLACE TEMP MACRO billable_month(tz, instant) AS
    coalesce(billing_month(tz, instant) BETWEEN DATE '0001-01-01' AND DATE '9999-12-01', true);
CREATE OR REPLACE TEMP VIEW meter_checks AS
WITH joined AS (
    SELECT l.*, k.customer_id, c.currency, c.timezone, m.metric_id, m.aggregation, m.property,
        CASE WHEN l.source = 'sequence' AND m.property IS NOT NULL
             THEN '$."' || replace(m.property, '"', '\"') || '"' END AS property_path
    FROM meter_input l
    LEFT JOIN ref_customer_keys k ON k.source = l.source AND k.source_customer_key = l.customer_key
    LEFT JOIN ref_customers c ON c.customer_id = k.customer_id
    LEFT JOIN ref_meters m ON m.source = l.source AND m.event_type = l.event_type
), dated AS (
    SELECT *,
        timezone(timezone, occurred_at)::DATE AS local_date,
        CASE WHEN billable_month(timezone, occurred_at) THEN billing_month(timezone, occurred_at) END AS period_start
    FROM joined
), valued AS (
    SELECT *,
        -- The day the price book is read on (step 11): the local date, or for `max` and `unique_count`
        -- the period's first day, since one price must hold for the whole aggregate.
        CASE WHEN aggregation IN ('max', 'unique_count') THEN period_start ELSE local_date END AS price_date,
        json_type(properties, property_path) AS value_type,
        json_extract_string(properties, property_path) AS value_text
    FROM dated
), checked AS (
    SELECT *,
        CASE
            WHEN outcome IS NOT NULL THEN NULL
            WHEN customer_id IS NULL THEN 'unknown_customer: customer key ' || coalesce(customer_key, 'NULL') || ' is not in customer_keys.csv'
            WHEN metric_id IS NULL THEN 'unmetered: no meter for ' || source || ' event type ' || coalesce(event_type, 'NULL')
            WHEN NOT billable_month(timezone, occurred_at) THEN 'invalid_value: occurred in ' || timezone || ' on '
                || timezone(timezone, occurred_at)::DATE::VARCHAR || ', outside the billing months 0001-01 to 9999-12'
            WHEN property_path IS NULL THEN NULL
            WHEN value_type IS NULL THEN 'invalid_value: eventProperties.' || property || ' is missing'
            WHEN aggregation = 'unique_count' AND NOT (value_type = 'VARCHAR' OR is_json_number(value_type))
                THEN 'invalid_value: eventProperties.' || property || ' is not a string or a number'
            WHEN aggregation = 'unique_count' THEN NULL
            WHEN NOT (is_json_number(value_type) OR (value_type = 'VARCHAR' AND is_plain_decimal(value_text)))
                THEN 'invalid_value: eventProperties.' || property || ' is not a number'
            WHEN is_negative(value_text) THEN 'invalid_value: eventProperties.' || property || ' is negative'
            WHEN to_amount(value_text) IS NULL THEN 'invalid_value: eventProperties.' || property || ' does not fit DECIMAL(38, 18)'
        END AS line_problem
    FROM valued
)
SELECT * FROM checked
