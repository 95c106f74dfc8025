-- Every source's records equal the sum of its outcome columns.
SELECT * FROM reconciliation
WHERE records <> billed + duplicate + superseded + voided + rejected_by_vendor + unmetered + quarantined
