from django import template

from leads.contacts import format_phone

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """+79161234567 → +7 916 123-45-67 (stored E.164, shown the way people read it)."""
    return format_phone(value or "")
