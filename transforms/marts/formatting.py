"""Numbers and dates as a customer reads them, exactly: ``Decimal`` in, text out, never a float.

- Money (amounts, totals): the currency's ISO 4217 minor unit, thousands separators, the code:
  ``1,234.50 USD``, ``1,235 JPY``, ``12.125 BHD``. Amounts are rounded when they are computed
  (``invoices.py``), never here: an amount with non-zero digits beyond the minor unit is an error.
- Unit prices keep every significant digit, and at least the minor unit: ``0.0005 BHD``, ``4.00 USD``.
- Quantities: every significant digit, no trailing zeros: ``2.5``, ``1,500``.
- For programs (JSON): every significant digit, no separators: ``2.5``, ``1500``.
- Dates in English, whatever the process locale: ``1 October 2026``.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from decimal import Decimal, localcontext

from transforms.currencies import CURRENCY_MINOR_UNITS

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")


def minor_unit(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (ISO 4217); ValueError for an unknown code."""
    if currency not in CURRENCY_MINOR_UNITS:
        raise ValueError(f"unknown currency {currency!r}")
    return CURRENCY_MINOR_UNITS[currency]


def format_money(amount: Decimal | int, currency: str) -> str:
    """``1,234.50 USD``: exactly the currency's minor unit of digits, with thousands separators.

    ValueError if ``amount`` has non-zero digits beyond the minor unit (it must already be rounded)."""
    return f"{format_amount(amount, currency)} {currency}"


def format_amount(amount: Decimal | int, currency: str) -> str:
    """``format_money`` without the currency code."""
    places = minor_unit(currency)
    value = _exact(amount)
    shown = _quantize(value, places)
    if shown != value:
        raise ValueError(f"{value} {currency} has more than the currency's {places} decimal places")
    return _grouped(shown)


def format_unit_price(price: Decimal | int, currency: str) -> str:
    """``0.0005 BHD``, ``4.00 USD``, ``1,500 JPY``: every significant digit, at least the minor unit."""
    value = _exact(price)
    return f"{_grouped(_quantize(value, max(minor_unit(currency), _places(value))))} {currency}"


def format_quantity(quantity: Decimal | int) -> str:
    """``2.5``, ``1,500``, ``0``: every significant digit, thousands separators, no trailing zeros."""
    return _grouped(_significant(_exact(quantity)))


def format_plain(number: Decimal | int) -> str:
    """``2.5``, ``1500``, ``0``: every significant digit, no separators, no trailing zeros and no
    exponent; a decimal as programs read it (JSON output), exactly."""
    return format(_significant(_exact(number)), "f")


def format_date(day: date) -> str:
    """``1 October 2026``."""
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


def format_month(period_start: date) -> str:
    """``October 2026``."""
    return f"{MONTH_NAMES[period_start.month - 1]} {period_start.year}"


def format_period(start: date, end_exclusive: date) -> str:
    """``1 October 2026 – 31 October 2026``: first to last day, both inclusive."""
    return f"{format_date(start)} – {format_date(end_exclusive - timedelta(days=1))}"


def format_billing_month(period_start: date) -> str:
    """``1 December 9999 – 31 December 9999``: the billing month that starts on ``period_start``, first to
    last day. Unlike ``format_period`` it needs no end date, so it also shows December 9999, whose
    exclusive end (10000-01-01) is a DATE in the warehouse but not a Python ``date``."""
    last_day = period_start.replace(day=monthrange(period_start.year, period_start.month)[1])
    return f"{format_date(period_start)} – {format_date(last_day)}"


def _exact(value: Decimal | int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"expected a Decimal, got {type(value).__name__}: {value!r}")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    return value


def _places(value: Decimal) -> int:
    """Significant digits after the decimal point (0 for an integer value)."""
    with localcontext() as ctx:
        ctx.prec = 100
        exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent)


def _significant(value: Decimal) -> Decimal:
    return _quantize(value, _places(value))


def _quantize(value: Decimal, places: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 100
        shown = value.quantize(Decimal(1).scaleb(-places))
    return shown.copy_abs() if shown.is_zero() else shown  # never "-0.00"


def _grouped(value: Decimal) -> str:
    return format(value, ",f")
