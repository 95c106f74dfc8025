"""What a raw record can become (SPEC §2): its one outcome, and the reasons a record is quarantined.

A module of its own, free of heavy imports, so the contracts, the UI's metadata and the command line
share one list."""

OUTCOMES = ("billed", "duplicate", "superseded", "voided", "rejected_by_vendor", "unmetered", "quarantined")
REASONS = (
    "invalid_json", "invalid_envelope", "schema_violation", "invalid_value",
    "unknown_status", "unknown_customer", "no_price",
)
