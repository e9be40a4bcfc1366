"""The dashboard (/dashboard/, the CEO's home page) and its monthly targets page
(/dashboard/targets/). Thin views: parse the period, call reports.kpis, render."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from rest_framework.exceptions import ValidationError

from reports import kpis
from reports.base import get_report
from reports.display import decimal_text, group_digits
from reports.models import KpiCode, KpiTarget
from reports.params import parse_params, today
from reports.routers import reading_reports
from reports.views import period_presets
from revops.display import month as display_month
from revops.roles import Role

CUSTOM = ("custom", gettext_lazy("Custom"))
GROUPS = (
    ("shared", gettext_lazy("Shared")),
    ("marketing", gettext_lazy("Marketing")),
    ("sales", gettext_lazy("Sales")),
)
STATUS_TEXT = {
    "green": ("✓", gettext_lazy("On target")),
    "amber": ("!", gettext_lazy("Close to target")),
    "red": ("✗", gettext_lazy("Off target")),
    "none": ("–", gettext_lazy("No target")),
}


def can_view(user) -> bool:
    """Executives, admins, marketing and heads of sales; reps work from their queue."""
    return user.is_superuser or user.role in (
        Role.EXECUTIVE,
        Role.ADMIN,
        Role.MARKETER,
        Role.MARKETING_HEAD,
        Role.SALES_HEAD,
    )


def can_set_targets(user) -> bool:
    return user.is_superuser or user.role in (Role.EXECUTIVE, Role.ADMIN)


# --- the period --------------------------------------------------------------------------


def presets() -> list[tuple[str, str]]:
    return [(code, label) for code, label, _start, _end in period_presets(today())] + [CUSTOM]


def _period_query(query: QueryDict) -> tuple[str, QueryDict]:
    """The preset chosen (the report pages' presets, so far, plus custom dates) and
    the report query for it."""
    preset = query.get("period", "") or (
        "custom" if query.get("date_from") or query.get("date_to") else "month"
    )
    result = QueryDict(mutable=True)
    if preset == "custom":
        # Both ends always given: an open end defaults to today.
        result["date_from"] = query.get("date_from", "") or today().replace(day=1).isoformat()
        result["date_to"] = query.get("date_to", "") or today().isoformat()
        return preset, result
    periods = {code: (start, end) for code, _label, start, end in period_presets(today())}
    if preset not in periods:
        raise ValidationError({"period": [_("Choose one of the periods offered.")]})
    result["date_from"], result["date_to"] = (day.isoformat() for day in periods[preset])
    return preset, result


# --- display -----------------------------------------------------------------------------


def display(tile: kpis.Tile, value) -> str:
    """A tile's figure as people read it: "4 336 000 ₽", "12,5 %", "14,5 мин", "1 234"."""
    if value is None:
        return "—"
    if tile.kind == "count":
        # A pro-rated target may have a fraction: shown rounded, judged unrounded.
        return group_digits(int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    if tile.kind == "money":
        rubles = int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return f"{group_digits(rubles)}\u00a0₽"
    if tile.code == KpiCode.FIRST_CONTACT_MEDIAN_MIN:
        return _("%(minutes)s min") % {"minutes": decimal_text(Decimal(value))}
    return f"{decimal_text(Decimal(value))}\u00a0%"


def _link(tile: kpis.Tile, params) -> str:
    if tile.report == "quality":
        return "/reports/quality/"
    query = {"date_from": params.date_from.isoformat(), "date_to": params.date_to.isoformat()}
    if tile.report == "funnel":
        query["mode"] = "events" if tile.mode == "events" else "cohort"
        query["by"] = "source"
    return f"/reports/{tile.report}/?" + "&".join(f"{k}={v}" for k, v in query.items())


def _chart_number(value):
    return None if value is None else float(value)


def dashboard_context(params) -> dict:
    """The tiles (this period, the previous one, the targets), grouped as the page
    shows them. The six-month trend is not here: it comes in a second request
    (trend_context), so the figures people read first do not wait for it."""
    tiles = kpis.tiles(params)
    groups = []
    for group, title in GROUPS:
        cards = []
        for tile_data in tiles:
            tile = kpis.TILE_BY_CODE[tile_data["code"]]
            if tile.group != group:
                continue
            icon, status_text = STATUS_TEXT[tile_data["status"]]
            cards.append(
                {
                    **tile_data,
                    "value_text": display(tile, tile_data["value"]),
                    "target_text": display(tile, tile_data["target"]),
                    "previous_text": display(tile, tile_data["previous"]),
                    "status_icon": icon,
                    "status_text": status_text,
                    "better_text": _("higher is better") if tile.better == "higher" else _("lower is better"),
                    "link": _link(tile, params),
                    "trended": tile.code in kpis.TREND_CODES,
                }
            )
        groups.append({"code": group, "title": title, "tiles": cards})
    return {"groups": groups, "tiles": tiles}


def trend_context(params) -> dict:
    """The six-month trend of each tile that has one: the chart data (json_script)
    and, per tile, the months in words for the chart's accessible name."""
    trend = kpis.trend(params, params.date_to)
    # Months as people read them ("Октябрь 2025"), on the axis and in the charts' text.
    month_names = [display_month(dt.date.fromisoformat(f"{m}-01")) for m in trend["months"]]
    charts = []
    for tile in kpis.TILES:
        points = trend["series"].get(tile.code)
        if points is None:
            continue
        charts.append(
            {
                "code": tile.code.value,
                "label": str(tile.code.label),
                "has_trend": any(v is not None for v in points),
                "trend_text": "; ".join(
                    f"{m}: {display(tile, v)}" for m, v in zip(month_names, points, strict=True)
                ),
            }
        )
    chart = {
        "months": month_names,
        "series": {code: [_chart_number(v) for v in values] for code, values in trend["series"].items()},
        "labels": {tile.code.value: str(tile.code.label) for tile in kpis.TILES},
    }
    return {"charts": charts, "chart": chart, "trend": trend}


# --- views -------------------------------------------------------------------------------


def _params(request):
    """The preset and the parsed period of a dashboard request (ValidationError on bad input)."""
    preset, query = _period_query(request.GET)
    return preset, parse_params(query, request.user, get_report("kpis"))


@login_required
def dashboard(request):
    if request.user.role == Role.REP and not request.user.is_superuser:
        return redirect("queue")
    if not can_view(request.user):
        raise PermissionDenied
    context = {"presets": presets(), "can_set_targets": can_set_targets(request.user)}
    try:
        preset, params = _params(request)
    except ValidationError as exc:
        context.update(preset=request.GET.get("period", "custom"), errors=_messages(exc.detail))
        context.update(date_from=request.GET.get("date_from", ""), date_to=request.GET.get("date_to", ""))
        return render(request, "reports/dashboard.html", context, status=400)
    context.update(
        preset=preset,
        params=params,
        date_from=params.date_from.isoformat(),
        date_to=params.date_to.isoformat(),
        # The trend's request names the dates this page shows, not a preset that
        # could mean another day by the time it is answered.
        trend_query=urlencode(
            {
                "period": "custom",
                "date_from": params.date_from.isoformat(),
                "date_to": params.date_to.isoformat(),
            }
        ),
    )
    with reading_reports():
        context.update(dashboard_context(params))
    return render(request, "reports/dashboard.html", context)


@login_required
def trend(request):
    """The dashboard's six-month trend, loaded by the page after its tiles (htmx,
    hx-trigger="load"): the chart data in json_script and each tile's chart,
    swapped into its tile out of band. Who may see the dashboard may see this;
    reps (whose home is the queue) may not."""
    if not can_view(request.user):
        raise PermissionDenied
    try:
        _preset, params = _params(request)
    except ValidationError as exc:
        return render(request, "reports/dashboard_trend.html", {"errors": _messages(exc.detail)}, status=400)
    with reading_reports():
        context = trend_context(params)
    return render(request, "reports/dashboard_trend.html", context)


def _messages(detail) -> list[str]:
    return [str(message) for messages_ in detail.values() for message in messages_]


class TargetsForm(forms.Form):
    """One month's targets; an empty field removes that tile's target."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for code in KpiCode:
            self.fields[code.value] = forms.DecimalField(
                label=code.label, required=False, min_value=0, max_digits=16, decimal_places=2
            )


def _parse_month(raw: str) -> dt.date | None:
    try:
        month = dt.datetime.strptime(raw.strip(), "%Y-%m").date()  # noqa: DTZ007 - a calendar month, no time
    except ValueError:
        return None
    return month if 2000 <= month.year <= 2100 else None


@login_required
@require_http_methods(["GET", "POST"])
def targets(request):
    """Monthly targets of the tiles: executives and admins set them, heads and
    marketing read them."""
    if not can_view(request.user):
        raise PermissionDenied
    editable = can_set_targets(request.user)
    if request.method == "POST" and not editable:
        raise PermissionDenied
    raw_month = (request.POST if request.method == "POST" else request.GET).get("month", "")
    # A page without a month shows this one; a save must name the month it is for.
    month = _parse_month(raw_month) if raw_month or request.method == "POST" else today().replace(day=1)
    context = {"editable": editable, "month_text": raw_month}
    if month is None:
        context["month_error"] = _("Give a month as YYYY-MM.")
        return render(request, "reports/kpi_targets.html", context, status=400)
    context["month_text"] = f"{month:%Y-%m}"
    existing = dict(KpiTarget.objects.filter(month=month).values_list("code", "value"))
    if request.method == "POST":
        form = TargetsForm(request.POST)
        if form.is_valid():
            _save_targets(month, form.cleaned_data)
            messages.success(request, _("Targets for %(month)s saved.") % {"month": f"{month:%Y-%m}"})
            return redirect(f"{request.path}?month={month:%Y-%m}")
        context["form"] = form
        return render(request, "reports/kpi_targets.html", context, status=400)
    form = TargetsForm(initial=existing)
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    context["form"] = form
    return render(request, "reports/kpi_targets.html", context)


@transaction.atomic
def _save_targets(month: dt.date, values: dict) -> None:
    for code, value in values.items():
        if value is None:
            KpiTarget.objects.filter(code=code, month=month).delete()
        else:
            KpiTarget.objects.update_or_create(code=code, month=month, defaults={"value": value})
