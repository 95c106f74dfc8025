"""Billing months: the invoice stage is partitioned by the first day of the customer's local month."""

import dagster as dg

# Wide enough for back-dated and slightly future-dated usage; `tally run` refuses periods outside it.
billing_months = dg.MonthlyPartitionsDefinition(start_date="2000-01-01", end_offset=24)
