"""Template helpers for report pages: a row's cells in column order."""

from django import template

from reports.display import figure

register = template.Library()


@register.simple_tag
def report_cells(row, columns):
    """[{field, value, text, link, conversion}] for a report row, in the report's
    column order; `link` is the drill-down of a count, `conversion` the
    percentage from the step before (funnel)."""
    links = row.get("links") or {}
    conversion = row.get("conversion") or {}
    return [
        {
            "field": field,
            "value": row.get(field),
            "text": figure(field, row.get(field)),
            "link": links.get(field),
            "conversion": conversion.get(field),
        }
        for field, _label in columns
    ]


@register.filter(name="figure")
def figure_filter(value, field):
    """{{ value|figure:"revenue" }} — a figure as people read it (reports/display.py)."""
    return figure(field, value)
