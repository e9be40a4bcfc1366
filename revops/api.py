"""Shared pieces of the REST API: pagination, error format, the 409 answer and
the strict serializer every app's actions take their input through."""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination, parsers, serializers, status
from rest_framework.views import exception_handler as drf_exception_handler

from revops import inputs

logger = logging.getLogger(__name__)


class Pagination(pagination.PageNumberPagination):
    """`page` from 1 (past the last page: 404), `page_size` from 1 (above 200
    it is capped at 200). DRF would quietly use the default size for a bad
    `page_size` and answer 404 for `page=0`; a bad value is the caller's
    mistake, so it is a 400 naming it."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        size = inputs.parse_id(raw)
        if size is None:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        _("Give a whole number of at least 1 (at most %(max)s rows are sent).")
                        % {"max": self.max_page_size}
                    ]
                }
            )
        return min(size, self.max_page_size)  # more than 200 is capped, as it always was

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param, "")
        if raw not in ("", *self.last_page_strings) and inputs.parse_id(raw) is None:
            raise exceptions.ValidationError({self.page_query_param: [inputs.id_message()]})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {**inputs.ID_SCHEMA}
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
                parameter["description"] = _("Rows per page, 1 to %(max)s (more is capped).") % {
                    "max": self.max_page_size
                }
        return parameters


class HttpConflict(exceptions.APIException):
    """409: the object's state forbids the action (revops.errors.Conflict, raised
    by an app's action, answered as the API's error)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is an error, not a silent no-op."""

    def validate(self, attrs):
        if isinstance(self.initial_data, dict):
            unknown = set(self.initial_data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError({key: [_("Unknown field.")] for key in sorted(unknown)})
        return attrs


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "too_large"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with limits: it reads at most DATA_UPLOAD_MAX_MEMORY_SIZE
    bytes (Django applies that limit to forms, DRF to nothing) and refuses JSON
    nested too deeply, NaN/Infinity and NUL characters with a 400, where the
    plain parser fails with RecursionError or hands the database what it refuses."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge()
        try:
            return inputs.loads(raw)
        except inputs.BadJson as exc:
            raise exceptions.ParseError(str(exc)) from None


def exception_handler(exc, context):
    """DRF's handler, plus Django's ValidationError as a 400 in the same
    `{field: [messages]}` shape, so model-level checks never surface as 500s."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {
                field: [str(m) for e in errors for m in e.messages]
                for field, errors in exc.error_dict.items()
            }
        else:
            detail = {"non_field_errors": [str(m) for m in exc.messages]}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)
