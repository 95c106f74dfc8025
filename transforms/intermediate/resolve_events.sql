-- Steps 5–8 of SPEC §2 over the lines in `resolve_marked`: vendor rejection, re-delivery, idempotency
-- keys and versions, status. The first copy of each shared key and the winning version of each event
-- with several versions are small aggregates joined back, not windows over every line. A line alone
-- with its key or event is its own first copy and winning version. `outcome` is NULL for lines still standing. Order is (receivedAt, source_file,
-- line_number, record_index), never the load order; fractional digits beyond the microsecond count too.
-- Keys and versions are a record's, the same on each of its usage lines (a paygentic event's properties),
-- so records are counted and ranked by their first usage line: counted by usage line, every paygentic
-- event of two properties shared its key, and at 10M records ranking those 2.5M keys took 3.8 s.
-- (Each aggregate reads `resolve_marked` itself: a CTE of the standing records, read four times, was
-- materialized, and copying its 10M wide rows cost more than the ranking saved.)
WITH shared_keys AS (
    -- Only a key that several standing records share can make one of them a duplicate.
    SELECT source, dedup_key FROM resolve_marked
    WHERE property_index = 0 AND early_outcome IS NULL AND dedup_key IS NOT NULL
    GROUP BY ALL HAVING count(*) > 1
), first_of_keys AS (
    SELECT source, dedup_key,
        arg_min(record_id, (received_at, received_sub_us, source_file, line_number, record_index)) AS first_of_key
    FROM resolve_marked SEMI JOIN shared_keys USING (source, dedup_key)
    WHERE property_index = 0 AND early_outcome IS NULL AND NOT replay
    GROUP BY ALL
), versioned_events AS (
    SELECT source, version_key FROM resolve_marked
    WHERE property_index = 0 AND early_outcome IS NULL AND version_key IS NOT NULL
    GROUP BY ALL HAVING count(*) > 1
), version_winners AS (
    -- A missing version time loses to any present one, as NULLS LAST would in a descending order.
    SELECT source, version_key,
        arg_max(record_id, (version_at IS NOT NULL, version_at, version_sub_us IS NOT NULL, version_sub_us,
                            received_at, received_sub_us, source_file, line_number, record_index)) AS version_winner
    FROM resolve_marked SEMI JOIN versioned_events USING (source, version_key)
    WHERE property_index = 0 AND early_outcome IS NULL
    GROUP BY ALL
), keyed AS (
    SELECT m.*,
        CASE WHEN early_outcome IS NULL AND dedup_key IS NOT NULL THEN f.first_of_key END AS first_of_key,
        CASE WHEN early_outcome IS NULL AND version_key IS NOT NULL THEN v.version_winner END AS version_winner
    FROM resolve_marked m
    LEFT JOIN first_of_keys f USING (source, dedup_key)
    LEFT JOIN version_winners v USING (source, version_key)
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
-- What only resolution reads (the receipt text, versions, void and replay flags, the record's id, which
-- usage_events derives) is left behind: each layer writes every line again, and these columns were a
-- third of the cost of writing it.
SELECT * EXCLUDE (early_outcome, redelivery_of, received_sub_us, first_of_key, version_winner, effect, decision, reason, detail,
                  received_at_text, version_at, version_sub_us, void_requested, replay, load_id, record_id),
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
    END AS decided_by,
    ?::BIGINT AS change_id  -- the change this resolution logs; metering and pricing carry it on
FROM decided
