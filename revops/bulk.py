"""`bulk_create` for the SLA sweep's many rows: a busy pass writes 1,000
breaches and 4,000 outbox rows at once (sla.sweep._record_breaches), its only
user. Everything else writes through the ORM.

Kept because the sweep benchmark shows it is needed (issue #13, bench/README.md):
`bench/sla.py --skip-worker` step 2, 1,000 timers due on 1,000,000 leads, the
two ways interleaved in one process on 2026-12-04: 1,507 ms median per pass
with this against 1,708 ms with `bulk_create` (Python CPU 257 against 330 ms),
where the target is 1 s and the pass is at or over it on this shared machine.

Why it is faster: Django's `bulk_create` prepares every value of every row
through its field (a dozen Python calls per value). On PostgreSQL this takes
the instances' plain attribute values, turns the few kinds psycopg2 adapts
slowly into text (`_converters`), and sends one array per column, `INSERT …
SELECT * FROM UNNEST(…)` — the statement shape Django uses too (a VALUES list
of thousands of rows costs the server far more to parse). Other databases get
`bulk_create` itself.
"""

import datetime as dt
import functools
import json

from django.db import connection, models


def insert(objs: list, *, ignore_conflicts: bool = False) -> list:
    """INSERT unsaved instances of one model and, unless conflicts are ignored,
    set their primary keys, as `bulk_create` does (which it falls back to for
    anything this fast path does not handle: explicit primary keys, expressions
    or database defaults as values, fields with their own placeholders)."""
    if not objs:
        return objs
    model = type(objs[0])
    rows = _rows(model, objs) if connection.vendor == "postgresql" else None
    if rows is None:
        return model.objects.bulk_create(objs, ignore_conflicts=ignore_conflicts)
    with connection.cursor() as cursor:
        cursor.execute(_statement(model, ignore_conflicts), _arrays(rows))
        ids = None if ignore_conflicts else cursor.fetchall()
    for i, obj in enumerate(objs):
        if ids is not None:
            obj.pk = ids[i][0]
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


@functools.cache
def _fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _arrays(rows: list[list]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


@functools.cache
def _statement(model, ignore_conflicts: bool) -> str:
    """The INSERT for `model`, built once: one array per column."""
    meta, fields = model._meta, _fields(model)
    quote = connection.ops.quote_name
    # db_type without its modifier (varchar[], not varchar(50)[]), as Django does.
    arrays = ", ".join(f"(%s)::{f.db_type(connection).split('(')[0]}[]" for f in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT * FROM UNNEST({arrays})"
    )
    if ignore_conflicts:
        return sql + " ON CONFLICT DO NOTHING"
    return sql + f" RETURNING {quote(meta.pk.column)}"


class _Unfit(Exception):
    """A value the fast path leaves to `bulk_create` (see _converters)."""


def _text(value):
    # Choices are str subclasses, which psycopg2 adapts slowly.
    return value if value.__class__ is str else str(value)


def _datetime(value):
    # Aware datetimes as ISO text, cast back by the column's type. A datetime
    # given as a string, or without a time zone, is Django's to interpret.
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise _Unfit
    return value.isoformat()


@functools.cache
def _converters(model) -> tuple | None:
    """How to turn each field's attribute into the value psycopg2 adapts
    fastest, as (attname, function or None) per field, and the auto_now
    fields; None when a field needs Django (its own placeholder, or a type
    this backend has no column type for)."""
    converters = []
    for f in _fields(model):
        kind = (f.target_field if f.is_relation else f).get_internal_type()
        if hasattr(f, "get_placeholder") or kind not in connection.data_types:
            return None
        if f.get_internal_type() == "JSONField":
            convert = functools.partial(_json, encoder=f.encoder)
        elif f.get_internal_type() == "DateTimeField":
            convert = _datetime
        elif isinstance(f, models.CharField | models.TextField):
            convert = _text
        else:
            convert = None
        converters.append((f.attname, convert))
    stamped = [
        f for f in _fields(model) if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    return converters, stamped


def _json(value, *, encoder):
    return json.dumps(value, cls=encoder)


def _row(converters, obj) -> list:
    row = []
    for attname, convert in converters:
        value = getattr(obj, attname)
        if value is not None:
            if hasattr(value, "as_sql"):  # F(), a database default…
                raise _Unfit
            if convert is not None:
                value = convert(value)
        row.append(value)
    return row


def _rows(model, objs) -> list[list] | None:
    """The plain values of each object, or None when bulk_create must do it."""
    layout = _converters(model)
    if layout is None or any(obj.pk is not None for obj in objs):
        return None
    converters, stamped = layout
    for obj in objs:
        for field in stamped:
            field.pre_save(obj, add=True)
    try:
        return [_row(converters, obj) for obj in objs]
    except _Unfit:
        return None
