"""Template helpers for report pages: a row's cells in column order."""

from django import template
from django.utils.dateparse import parse_datetime

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


@register.simple_tag
def kpi_texts(tile):
    """A KPI row of the report page in words, as the dashboard shows it:
    {value, target, previous, status} ("4 336 000 ₽", "On target"…)."""
    from reports.dashboard import STATUS_TEXT, display
    from reports.kpis import TILE_BY_CODE

    spec = TILE_BY_CODE.get(tile["code"])
    if spec is None:
        return {name: tile.get(name) for name in ("value", "target", "previous", "status")}
    return {
        **{name: display(spec, tile.get(name)) for name in ("value", "target", "previous")},
        "status": STATUS_TEXT.get(tile.get("status"), ("", tile.get("status")))[1],
    }


@register.filter
def moment(value):
    """An ISO date-time of a report's answer (kept ISO for the API) as a datetime,
    for |date: {{ result.idle_since|moment|date:"DATE_FORMAT" }}."""
    return parse_datetime(value) if isinstance(value, str) else value


@register.filter(name="figure")
def figure_filter(value, field):
    """{{ value|figure:"revenue" }} — a figure as people read it (reports/display.py)."""
    return figure(field, value)


@register.inclusion_tag("reports/_measured_with.html")
def measured_with(result):
    """The funnel's "measured with": the checklist and segment versions in force
    in the period, from the answer's `definitions`."""
    from leads.models import DefinitionKind

    kinds = []
    for kind, label in DefinitionKind.choices:
        versions = [
            {**v, "since": parse_datetime(v["since"])}
            for v in (result or {}).get("definitions", {}).get(kind, [])
        ]
        if versions:
            kinds.append({"label": label, "versions": versions, "changed": len(versions) > 1})
    return {"kinds": kinds}
