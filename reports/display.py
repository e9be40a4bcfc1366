"""Figures as people read them on report pages and the dashboard (UX.md):
"4 336 000 ₽", "50 000", "12,5 %" in Russian; "4,336,000 ₽", "12.5 %" in English
(money and grouping from revops.display). The API and exports keep the raw decimal
strings; this is only for the eye."""

from decimal import Decimal, InvalidOperation

from revops.display import decimal_text, group_digits, money

__all__ = ["MONEY_FIELDS", "PERCENT_FIELDS", "decimal_text", "figure", "group_digits", "rubles"]

# Report fields that are money and percentages (the rest are counts or minutes).
MONEY_FIELDS = frozenset(
    {"revenue", "margin", "repeat_revenue", "repeat_margin", "spend", "cpl", "cost_per_sql", "cpa"}
)
PERCENT_FIELDS = frozenset({"romi", "met_pct", "not_target_pct", "spam_pct"})


def rubles(value) -> str:
    """Whole rubles, half-up: a report page is read for its size, not its kopecks."""
    return money(value, whole=True)


def figure(field: str, value) -> str:
    """A report cell: money in rubles, percentages with their sign, numbers grouped."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal | float):
        return str(value)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)  # a label or a code
    if field in MONEY_FIELDS:
        return rubles(number)
    if field in PERCENT_FIELDS or field.endswith("_pct"):
        return f"{decimal_text(number)}\u00a0%"
    return decimal_text(number)
