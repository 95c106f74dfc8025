-- Steps 5–8 of SPEC §2 over every staged line: vendor rejection, re-delivery, idempotency keys and
-- versions, status. `outcome` is NULL for lines still standing. Order is (receivedAt, source_file,
-- line_number, record_index), never the load order; fractional digits beyond the microsecond count too.
WITH marked AS (
    SELECT l.*,
        l.source_file || ':' || l.line_number || ':' || l.record_index AS record_id,
        CASE WHEN l.reason IS NOT NULL THEN 'quarantined'
             WHEN l.vendor_rejected THEN 'rejected_by_vendor'
             WHEN r.first_file IS NOT NULL THEN 'duplicate' END AS early_outcome,
        r.first_file || ':' || r.first_line || ':' || l.record_index AS redelivery_of,
        sub_microseconds(l.received_at_text) AS received_sub_us
    FROM resolve_input l
    LEFT JOIN redeliveries r USING (source, source_file, line_number)
), keyed AS (
    SELECT *,
        CASE WHEN early_outcome IS NULL AND dedup_key IS NOT NULL THEN first_value(
            CASE WHEN early_outcome IS NULL AND NOT replay THEN record_id END IGNORE NULLS) OVER (
            PARTITION BY source, dedup_key
            ORDER BY received_at, received_sub_us, source_file, line_number, record_index
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) END AS first_of_key,
        CASE WHEN early_outcome IS NULL AND version_key IS NOT NULL THEN first_value(
            CASE WHEN early_outcome IS NULL THEN record_id END IGNORE NULLS) OVER (
            PARTITION BY source, version_key
            ORDER BY version_at DESC, version_sub_us DESC, received_at DESC, received_sub_us DESC, source_file DESC, line_number DESC, record_index DESC
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) END AS version_winner
    FROM marked
), decided AS (
    SELECT k.*, s.effect, CASE
        WHEN early_outcome = 'quarantined' THEN 'invalid'
        WHEN early_outcome = 'rejected_by_vendor' THEN 'rejected'
        WHEN early_outcome = 'duplicate' THEN 'redelivery'
        WHEN replay THEN 'replay'
        WHEN first_of_key <> record_id THEN 'reused_key'
        WHEN version_winner <> record_id THEN 'later_version'
        WHEN k.source = 'tula' AND s.effect IS NULL THEN 'unknown_status'
        WHEN s.effect = 'void' THEN 'void_status'
        WHEN void_requested THEN 'void_alias'
    END AS decision
    FROM keyed k
    LEFT JOIN ref_statuses s ON s.source = k.source AND s.status = k.status
)
SELECT * EXCLUDE (early_outcome, redelivery_of, received_sub_us, first_of_key, version_winner, effect, decision, reason, detail),
    CASE decision
        WHEN 'invalid' THEN 'quarantined'
        WHEN 'rejected' THEN 'rejected_by_vendor'
        WHEN 'later_version' THEN 'superseded'
        WHEN 'unknown_status' THEN 'quarantined'
        WHEN 'void_status' THEN 'voided'
        WHEN 'void_alias' THEN 'voided'
        ELSE CASE WHEN decision IS NOT NULL THEN 'duplicate' END
    END AS outcome,
    CASE decision WHEN 'unknown_status' THEN 'unknown_status' ELSE reason END AS reason,
    CASE decision
        WHEN 'invalid' THEN detail
        WHEN 'rejected' THEN 'the captured response says the vendor did not record it'
        WHEN 'redelivery' THEN 're-delivery of an identical line'
        WHEN 'replay' THEN 'the vendor answered idempotentReplay: true'
        WHEN 'reused_key' THEN 'idempotency key already used by an earlier record'
        WHEN 'later_version' THEN 'a later version of the event wins'
        WHEN 'unknown_status' THEN 'status ' || status || ' is not declared in statuses.csv'
        WHEN 'void_status' THEN 'status ' || status || ' voids the event'
        WHEN 'void_alias' THEN 'customerAlias VOID removes the event'
    END AS detail,
    CASE decision
        WHEN 'redelivery' THEN redelivery_of
        WHEN 'reused_key' THEN first_of_key
        WHEN 'later_version' THEN version_winner
    END AS decided_by
FROM decided
