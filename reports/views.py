"""Report pages: /reports/ (the list) and /reports/<name>/ (one report with its
period, mode, grouping and filter form). Thin: the figures come from
Report.compute, the same as the API's."""

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from leads.definitions import describe
from leads.models import DefinitionKind, DefinitionVersion
from leads.steps import MODE_LABELS
from reports.api import export_response, parse_format
from reports.base import all_reports, get_report
from reports.params import FILTERS, parse_params, today
from reports.routers import reading_reports


def _quarter_start(day: dt.date) -> dt.date:
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def period_presets(now: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """This month, last month, this quarter, this year (each so far)."""
    month_start = now.replace(day=1)
    last_month_end = month_start - dt.timedelta(days=1)
    return [
        ("month", _("This month"), month_start, now),
        ("last_month", _("Last month"), last_month_end.replace(day=1), last_month_end),
        ("quarter", _("This quarter"), _quarter_start(now), now),
        ("year", _("This year"), now.replace(month=1, day=1), now),
    ]


def filter_options(user) -> dict:
    """Choices for the filter form (one small query each, whatever the data)."""
    from leads.models import Campaign, Product, Segment, Source
    from revops.models import Team, User
    from revops.roles import Role

    people = User.objects.filter(role__in=[Role.REP, Role.SALES_HEAD], is_active=True)
    teams = Team.objects.filter(kind="sales")
    if not user.sees_all_leads:
        people = people.filter(team_id=user.team_id) if user.team_id else people.filter(pk=user.pk)
        teams = teams.filter(pk=user.team_id) if user.team_id else teams.none()
    return {
        "source": [(s.pk, str(s)) for s in Source.objects.order_by("name")],
        "campaign": [(c.pk, c.name) for c in Campaign.objects.order_by("name")],
        "segment": [(s.pk, str(s)) for s in Segment.objects.all()],
        "product": [(p.pk, str(p)) for p in Product.objects.all()],
        "team": [(t.pk, str(t)) for t in teams.order_by("name")],
        "owner": [
            (u.pk, u.get_full_name() or u.username) for u in people.order_by("last_name", "first_name")
        ],
    }


FILTER_LABELS = {
    "source": _("Source"),
    "campaign": _("Campaign"),
    "segment": _("Segment"),
    "product": _("Product"),
    "team": _("Team"),
    "owner": _("Owner"),
}
BY_LABELS = {
    "source": _("Source"),
    "campaign": _("Campaign"),
    "segment": _("Segment"),
    "product": _("Product"),
    "team": _("Team"),
    "owner": _("Owner"),
    "month": _("Month"),
    "week": _("Week"),
    "stage": _("Stage"),
    "hour": _("Hour of arrival"),
    "weekday": _("Weekday of arrival"),
    "reason": _("Reason"),
    "none": _("Total only"),
}


@login_required
def report_index(request):
    return render(request, "reports/index.html", {"reports": all_reports()})


@login_required
def report_page(request, name):
    report = get_report(name)
    if report is None:
        raise Http404
    now = today()
    context = {
        "report": report,
        "params": None,
        "result": None,
        "errors": {},
        "query": request.GET,
        "presets": [
            {"code": code, "label": label, "date_from": start.isoformat(), "date_to": end.isoformat()}
            for code, label, start, end in period_presets(now)
        ],
        "modes": [(mode, MODE_LABELS.get(mode, mode)) for mode in report.modes],
        "by_choices": [(by, BY_LABELS.get(by, by)) for by in report.by_choices],
        "filters": [
            (name, FILTER_LABELS[name], options, request.GET.get(name, ""))
            for name, options in filter_options(request.user).items()
            if name in FILTERS
        ],
        "reports": all_reports(),
        "report_url": reverse("report", args=[name]),
    }
    try:
        fmt = parse_format(request.GET)
        with reading_reports():
            params = parse_params(request.GET, request.user, report)
            result = report.compute(params)
            if fmt is not None:
                return export_response(report, result, fmt)
    except ValidationError as exc:
        context["errors"] = {
            field: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            for field, msgs in exc.detail.items()
        }
        return render(request, "reports/base_report.html", context, status=400)
    context.update(params=params, result=result, by_label=BY_LABELS.get(params.by, params.by))
    context["export_query"] = {
        "csv": _urlencode(params.query(format="csv")),
        "xlsx": _urlencode(params.query(format="xlsx")),
    }
    return render(request, report.get_template(), context)


def _urlencode(params: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


@login_required
def definition_history(request):
    """Every version of the MQL/SQL checklist and the ICP segments: when, who,
    what changed (leads.definitions). Everyone reads the definitions the
    numbers are measured with; only the admin changes them."""
    versions = (
        DefinitionVersion.objects.defer("snapshot").select_related("changed_by").order_by("kind", "-number")
    )
    kinds = {kind: {"label": label, "versions": []} for kind, label in DefinitionKind.choices}
    for version in versions[:400]:  # a few per year in practice; the page stays bounded
        version.described = [describe(change) for change in version.changes]
        kinds[version.kind]["versions"].append(version)
    return render(request, "reports/definitions.html", {"kinds": kinds.values(), "reports": all_reports()})
