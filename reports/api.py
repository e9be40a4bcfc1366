"""GET /api/v1/reports/<name>/: any registered report as JSON, CSV or XLSX.

Thin: look the report up, parse the common parameters (400 on bad input),
compute, answer. `?format=csv|xlsx` hands the result to reports.exports.
"""

import importlib

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from reports.base import REPORT_MODULES, get_report
from reports.params import MODES, parse_params
from reports.routers import reading_reports
from revops.inputs import ID_SCHEMA

EXPORT_FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _NoFormatOverride:
    URL_FORMAT_OVERRIDE = None


class ReportNegotiation(DefaultContentNegotiation):
    """DRF reads `?format=` as a renderer choice and answers 404 for csv/xlsx
    before the view runs; here `format` is the report's export format."""

    settings = _NoFormatOverride


def export_response(report, result, fmt):
    """reports.exports.export(report, result, fmt), or a 400 while that module
    is not installed."""
    try:
        exports = importlib.import_module("reports.exports")
    except ModuleNotFoundError as exc:
        if exc.name != "reports.exports":
            raise
        raise ValidationError({"format": [_("Exports are not available yet.")]}) from None
    return exports.export(report, result, fmt)


def parse_format(query) -> str | None:
    fmt = query.get("format", "")
    if fmt in ("", "json"):
        return None
    if fmt not in EXPORT_FORMATS:
        raise ValidationError({"format": [_("Choose one of: %(choices)s.") % {"choices": "json, csv, xlsx"}]})
    return fmt


def _id_param(name, description):
    return OpenApiParameter(name, {**ID_SCHEMA}, OpenApiParameter.QUERY, description=description)


REPORT_SCHEMA = {
    "type": "object",
    "description": "A report's answer (DESIGN.md, “Reports”). The KPI report answers "
    "{date_from, date_to, tiles: [...]} instead of rows and total.",
    "properties": {
        "by": {"type": "string"},
        "mode": {"type": "string"},
        "date_from": {"type": "string", "format": "date"},
        "date_to": {"type": "string", "format": "date"},
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "description": "`key`, `label` and the report's fields; `links` maps a count to its lead list.",
                "additionalProperties": True,
            },
        },
        "total": {"type": "object", "additionalProperties": True},
        "tiles": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    },
    "required": ["date_from", "date_to"],
    "additionalProperties": True,
}


class ReportView(APIView):
    content_negotiation_class = ReportNegotiation

    @extend_schema(
        operation_id="reports_retrieve",
        summary="A report",
        description="Funnel, SLA, rejections, data quality or KPIs over the leads the caller "
        "may see; money is null for reps, spend null unless the caller sees every lead and "
        "no team, owner, segment or product filter is set.",
        parameters=[
            OpenApiParameter(
                "name",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(REPORT_MODULES),
                description="The report.",
            ),
            OpenApiParameter(
                "date_from",
                OpenApiTypes.DATE,
                OpenApiParameter.QUERY,
                description="First day (inclusive, company time zone); default: the first of this month.",
            ),
            OpenApiParameter(
                "date_to",
                OpenApiTypes.DATE,
                OpenApiParameter.QUERY,
                description="Last day (inclusive); default: today.",
            ),
            OpenApiParameter("mode", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=list(MODES)),
            OpenApiParameter(
                "by",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description="The grouping; each report has its own.",
            ),
            _id_param("source", "Only leads of this source."),
            _id_param("campaign", "Only leads of this campaign."),
            _id_param("segment", "Only leads of this segment."),
            _id_param("product", "Only leads of this product (its id)."),
            _id_param("team", "Only leads of this team."),
            _id_param("owner", "Only leads of this owner."),
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                enum=["json", *EXPORT_FORMATS],
                description="json (default), or a CSV or XLSX file of the same figures.",
            ),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(REPORT_SCHEMA, description="The report."),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The report as CSV."),
            (200, XLSX_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="The report as XLSX."),
            400: OpenApiResponse(description="{field: [messages]}"),
            404: OpenApiResponse(description="No such report."),
        },
    )
    def get(self, request, name):
        report = get_report(name)
        if report is None:
            raise Http404
        fmt = parse_format(request.query_params)
        # Reads (parameters, figures, the export) go to the reports database
        # when REPORTS_DATABASE_URL is set (reports/routers.py).
        with reading_reports():
            params = parse_params(request.query_params, request.user, report)
            result = report.compute(params)
            if fmt is not None:
                return export_response(report, result, fmt)
        return Response(result)
