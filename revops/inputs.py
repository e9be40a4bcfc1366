"""Parsing of request input, shared by the API and the pages, so that bad input
is a 400 with a message and never a 500.

Hand-rolled `int(value) if value.isdigit()` is the trap this module replaces:
`"²".isdigit()` is True and `int("²")` raises, `int("١٢")` is 12, and an id of
20 digits overflows the database's 64-bit integer. Dates at the ends of the
calendar overflow when made aware or moved by a day. JSON nested a few thousand
levels deep raises RecursionError in the parser.
"""

import datetime as dt
import functools
import io
import json
import math
import re

import django_filters
from django import forms
from django.core.handlers.wsgi import LimitedStream
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# The largest value of a 64-bit signed integer (PostgreSQL bigint, SQLite INTEGER).
MAX_ID = 2**63 - 1
# Plain ASCII digits only, no sign, no leading zero, at most 19 of them.
_ID = re.compile(r"[1-9][0-9]{0,18}\Z")

# The dates anyone may ask about. Far enough for imported history and far
# deadlines; near enough that making a date aware in any zone, or adding a day to
# it, never leaves Python's calendar (year 1 to 9999).
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)

# How deep a JSON body may nest. Intake's `extra` is the only free-form part and
# is a flat object in practice; the parser itself gives up near 1,000.
MAX_JSON_DEPTH = 32

ID_SCHEMA = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}


def parse_id(value) -> int | None:
    """The id in `value` (a string of ASCII digits, 1 … 2**63-1), else None."""
    if isinstance(value, str) and _ID.match(value):
        number = int(value)
        if number <= MAX_ID:
            return number
    return None


def id_message():
    return _("Give a whole number from 1 to %(max)s.") % {"max": MAX_ID}


def date_message():
    return _("Give a date from %(first)s to %(last)s.") % {
        "first": EARLIEST_DATE.isoformat(),
        "last": LATEST_DATE.isoformat(),
    }


# --- form fields (pages and django-filter) ---------------------------------------------------------------


class IdField(forms.IntegerField):
    """A row id: ASCII digits, 1 to 2**63-1."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_python(self, value):
        text = "" if value in self.empty_values else str(value).strip()
        if not text:
            return None
        number = parse_id(text)
        if number is None:
            raise forms.ValidationError(id_message(), code="invalid")
        return number


class BoundedDateField(forms.DateField):
    """A date between EARLIEST_DATE and LATEST_DATE."""

    def validate(self, value):
        super().validate(value)
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise forms.ValidationError(date_message(), code="out_of_range")


# --- serializer fields (API bodies) ---------------------------------------------------------------------


class BoundedDateSerializerField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            raise serializers.ValidationError(date_message())
        return day


class BoundedDateTimeSerializerField(serializers.DateTimeField):
    def enforce_timezone(self, value):
        # Checked before DRF converts the zone, which overflows at year 1 and 9999.
        if not EARLIEST_DATE <= value.date() <= LATEST_DATE:
            raise serializers.ValidationError(date_message())
        return super().enforce_timezone(value)


# --- JSON bodies -----------------------------------------------------------------------------------------


class BadJson(ValueError):
    """The body is not JSON we take; str() is the message for the caller."""


def _refuse_constant(name):
    raise BadJson(_("NaN and Infinity are not JSON numbers."))


def _finite_float(text):
    number = float(text)
    if not math.isfinite(number):
        raise BadJson(_("A number in the body is too large."))
    return number


def loads(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH):
    """json.loads that refuses what the database or the parser cannot take:
    nesting deeper than `max_depth`, NaN/Infinity and overflowing numbers, and
    NUL characters (PostgreSQL text and jsonb refuse them). Raises BadJson."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadJson(_("The JSON is nested too deeply (at most %(n)s levels).") % {"n": max_depth}) from None
    except BadJson:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise BadJson(_("The request body is not valid JSON: %(error)s") % {"error": exc}) from None
    check_json(data, max_depth=max_depth)
    return data


def check_json(data, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Walk parsed JSON without recursion; BadJson if too deep or holding a NUL."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise BadJson(_("The JSON is nested too deeply (at most %(n)s levels).") % {"n": max_depth})
            if isinstance(value, dict):
                for key, item in value.items():
                    if "\x00" in key:
                        raise BadJson(_("The body contains a NUL character."))
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and "\x00" in value:
            raise BadJson(_("The body contains a NUL character."))


# --- django-filter filters (one FilterSet serves the API and the pages) ----------------------------------


@extend_schema_field(ID_SCHEMA)
class IdFilter(django_filters.NumberFilter):
    """A row id as a plain number (no lookup of the row, so the filter tells
    nobody which ids exist); anything but 1 … 2**63-1 is a 400."""

    field_class = IdField


class _IdModelChoiceField(django_filters.fields.ModelChoiceField):
    def to_python(self, value):
        if value not in self.empty_values and parse_id(str(value).strip()) is None:
            raise forms.ValidationError(id_message(), code="invalid")
        return super().to_python(value)


class IdModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Reference rows by id, several: an id outside 1 … 2**63-1 is a form error
    before any query (SQLite cannot bind a larger one: a 500, not a refusal)."""

    def clean(self, value):
        for item in value if isinstance(value, list | tuple) else ():
            if item not in self.empty_values and parse_id(str(item).strip()) is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": item}
                )
        return super().clean(value)


@extend_schema_field(ID_SCHEMA)
class IdModelChoiceFilter(django_filters.ModelChoiceFilter):
    """A reference row by id; a malformed id is a 400 before any query."""

    field_class = _IdModelChoiceField


@extend_schema_field({"type": "string", "format": "date"})
class BoundedDateFilter(django_filters.DateFilter):
    """A date between EARLIEST_DATE and LATEST_DATE (the schema's format says
    `date`; the range is in the parameter's description)."""

    field_class = BoundedDateField


def start_of_day(day: dt.date) -> dt.datetime:
    """Midnight of `day` in the company's time zone (dates in filters are local
    dates: `created_after=2025-03-01` starts at that midnight, a `…_before` day
    ends at the next one)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


# --- request bodies --------------------------------------------------------------------------------------


def limit_body(max_bytes: int):
    """Answer 413 (JSON) to a body over `max_bytes` without reading it: a
    declared Content-Length is checked first; a chunked body (no length, which
    Django would read as empty) is read up to one byte past the limit and kept
    for the view only when it fits."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            meta = request.META
            try:
                length = int(meta.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0  # Django reads such a body as empty, so it is not read either
            chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
            if length > max_bytes:
                return _too_large(max_bytes)
            if not length and chunked and meta.get("wsgi.input_terminated"):
                data = meta["wsgi.input"].read(max_bytes + 1)
                if len(data) > max_bytes:
                    return _too_large(max_bytes)
                meta["CONTENT_LENGTH"] = str(len(data))
                request._stream = LimitedStream(io.BytesIO(data), len(data))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _too_large(max_bytes: int) -> JsonResponse:
    return JsonResponse(
        {"detail": _("The request body is too large (at most %(n)s kB).") % {"n": max_bytes // 1024}},
        status=413,
    )
