"""Invoice lifecycle (SPEC §7): closing months, issuing numbered documents, and adjustments for late data."""
