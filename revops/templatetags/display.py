"""{% load display %}: money and numbers as people read them (revops/display.py)."""

import datetime as dt

from django import template

from revops import display

register = template.Library()


@register.filter
def money(value, currency="RUB"):
    """{{ spend.amount|money:spend.currency }} → "1 100 ₽", "1 100,50 ₽"."""
    return display.money(value, currency)


@register.filter
def month(value):
    """A month (a date, or "YYYY-MM" as import previews keep it) → "Март 2026"."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(f"{value[:7]}-01")
        except ValueError:
            return value
    return display.month(value)


@register.filter
def number(value):
    """{{ count|number }} → "50 000"."""
    return display.number(value)
