import time

from django import template

from leads.contacts import format_phone

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """+79161234567 → +7 916 123-45-67 (stored E.164, shown the way people read it)."""
    return format_phone(value or "")


@register.simple_tag
def fast_field(field) -> str:
    """A form field's input, without Django's per-option widget templates
    (they cost milliseconds per select on busy list pages). Selects are built
    here; other widgets render as usual."""
    from django import forms
    from django.utils.html import format_html, format_html_join

    widget = field.field.widget
    if not isinstance(widget, forms.Select) or isinstance(widget, forms.RadioSelect):
        return str(field)
    current = field.value()
    chosen = {
        str(v) for v in (current if isinstance(current, list | tuple) else [current]) if v not in (None, "")
    }
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((value, " selected" if str(value) in chosen else "", label) for value, label in widget.choices),
    )
    multiple = " multiple" if isinstance(widget, forms.SelectMultiple) else ""
    return format_html(
        '<select name="{}" id="{}"{}>{}</select>', field.html_name, field.id_for_label, multiple, options
    )


@register.simple_tag
def clock_texts() -> dict[str, str]:
    """The SLA badge's words in the reader's language, for the live countdown in the browser."""
    from sla.display import clock_texts as texts

    return texts()


@register.inclusion_tag("leads/_undo_offer.html", takes_context=True)
def undo_offer(context) -> dict:
    """The "Undo" of a rejection or nurture just made (leads.card_views._offer_undo),
    shown once, while its few seconds last."""
    request = context.get("request")
    offer = request.session.pop("undo", None) if request is not None and hasattr(request, "session") else None
    if not offer:
        return {"offer": None}
    left_ms = int((offer.get("until", 0) - time.time()) * 1000)
    return {
        "offer": offer,
        # Past its seconds (or not undoable) it is a plain message: the text, no button.
        "left_ms": left_ms if offer.get("change") and left_ms > 0 else 0,
        "work_mode": context.get("work_mode", False),
    }


@register.filter
def call_length(seconds) -> str:
    """A call's length as people say it: "45 с", "2 мин 05 с"."""
    from django.utils.translation import gettext as _

    seconds = int(seconds or 0)
    if seconds < 60:
        return _("%(s)s s") % {"s": seconds}
    return _("%(m)s min %(s)02d s") % {"m": seconds // 60, "s": seconds % 60}
