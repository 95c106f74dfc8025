"""Billing months: the invoice stage is partitioned by the first day of the customer's local month.

The partitions are dynamic: a month is a partition once billed usage falls in it (``YYYY-MM-01``), whatever
its year, so no record's date is outside the calendar (SPEC §4). Pricing adds the months it finds
(``add_billing_months``); `tally run`, the `monthly_invoices` schedule and the `invoices_after_load` sensor add
the months they ask for before they ask. Keys are kept in the order they were added, which is chronological
within each addition, not across additions: a month back-dated after later months is added after them.
"""

from collections.abc import Iterable, Sequence

import dagster as dg

BILLING_MONTHS = "billing_months"

billing_months = dg.DynamicPartitionsDefinition(name=BILLING_MONTHS)


def add_billing_months(instance: dg.DagsterInstance, keys: Iterable[str]) -> list[str]:
    """Adds the months of ``keys`` that are not partitions yet, in calendar order; returns those added."""
    known = set(instance.get_dynamic_partitions(BILLING_MONTHS))
    new = sorted(set(keys) - known)
    if new:
        instance.add_dynamic_partitions(BILLING_MONTHS, new)
    return new


def covering_range(partition_keys: Sequence[str], wanted: Iterable[str]) -> list[str]:
    """The partition keys from the first to the last of ``wanted`` in partition order: the one range of a
    single run that invoices every wanted month (with the months between them, rebuilt unchanged).
    Every wanted month must be a partition."""
    wanted = set(wanted)
    if not wanted:
        return []
    missing = wanted - set(partition_keys)
    if missing:
        raise ValueError(f"not billing-month partitions: {', '.join(sorted(missing))}")
    positions = [i for i, key in enumerate(partition_keys) if key in wanted]
    return list(partition_keys[positions[0] : positions[-1] + 1])
