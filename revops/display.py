"""What a person reads, in the active language — one place for money, numbers and
dates, so every page says "4 336 000 ₽", "50 000" and "07.03.2026 09:05" alike
(the date styles themselves are in revops/formats/). The API and exports keep raw
values; this is only for the eye."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils import formats, timezone
from django.utils.translation import get_language

CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}


def _russian() -> bool:
    return (get_language() or "ru").startswith("ru")


def group_digits(number: int) -> str:
    """50000 → "50 000" (a non-breaking space) in Russian, "50,000" in English."""
    sep = "\u00a0" if _russian() else ","
    return f"{number:,}".replace(",", sep)


def decimal_text(value: Decimal) -> str:
    point = "," if _russian() else "."
    whole, _dot, frac = str(abs(value)).partition(".")
    return ("-" if value < 0 else "") + group_digits(int(whole)) + (point + frac if frac else "")


def money(value, currency: str = "RUB", *, whole: bool = False) -> str:
    """4336000 → "4 336 000 ₽"; kopecks only when there are any ("1 100,50 ₽"),
    none at all with `whole` (half-up, for figures read for their size)."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if whole or amount == amount.to_integral_value():
        text = group_digits(int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    else:
        text = decimal_text(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    sign = CURRENCY_SIGNS.get(currency or "RUB")
    return f"{text}\u00a0{sign}" if sign else f"{text}\u00a0{currency}"


def number(value) -> str:
    """A whole count, grouped: 50000 → "50 000"."""
    if value is None or value == "":
        return "—"
    return group_digits(int(value))


def when(value: dt.datetime) -> str:
    """A moment in tables, timelines, deadlines and next steps: "07.03.2026 09:05"."""
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def day(value: dt.date) -> str:
    """A date in tables: "07.03.2026"."""
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def month(value: dt.date) -> str:
    """A month: "Март 2026"."""
    return formats.date_format(value, "YEAR_MONTH_FORMAT")
