"""`bulk_create` for the hot write paths: the sweep's thousands of breaches and
outbox rows at once, and intake's handful of single rows per lead.

Why: Django's `bulk_create` prepares every value of every row through its field
(a dozen Python calls per value); for the 1,000 breaches and 4,000 outbox rows
of a busy sweep pass that preparation was most of the pass's Python time. On
PostgreSQL this takes the instances' plain attribute values, turns the few
kinds psycopg2 adapts slowly into text (`_plain`), and sends one array per
column, `INSERT … SELECT * FROM UNNEST(…)` — the statement shape Django uses
too (a VALUES list of thousands of rows costs the server far more to parse);
a single row (intake writes its rows one by one) goes as plain VALUES.
Other databases get `bulk_create` itself.
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
    fields = _fields(model)
    columns = _columns(fields, objs) if connection.vendor == "postgresql" else None
    if columns is None:
        return model.objects.bulk_create(objs, ignore_conflicts=ignore_conflicts)
    single = len(objs) == 1
    sql = _statement(model, ignore_conflicts, single)
    with connection.cursor() as cursor:
        cursor.execute(sql, [column[0] for column in columns] if single else columns)
        ids = None if ignore_conflicts else cursor.fetchall()
    for i, obj in enumerate(objs):
        if ids is not None:
            obj.pk = ids[i][0]
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


@functools.cache
def _fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


@functools.cache
def _statement(model, ignore_conflicts: bool, single: bool) -> str:
    """The INSERT for `model`, built once (intake runs several per request). One
    row goes as VALUES: UNNEST's arrays cost the server ~0.3 ms more to plan,
    which only pays off over many rows."""
    meta, fields = model._meta, _fields(model)
    quote = connection.ops.quote_name
    if single:
        rows = f"VALUES ({', '.join('%s' for _ in fields)})"
    else:
        # db_type without its modifier (varchar[], not varchar(50)[]), as Django does.
        rows = "SELECT * FROM UNNEST({})".format(
            ", ".join(f"(%s)::{f.db_type(connection).split('(')[0]}[]" for f in fields)
        )
    return f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) {rows}" + (
        " ON CONFLICT DO NOTHING" if ignore_conflicts else f" RETURNING {quote(meta.pk.column)}"
    )


@functools.cache
def _layout(model) -> tuple[bool, list]:
    """Whether the fast path can write `model`, and its auto_now fields."""
    fields = _fields(model)
    plain = not any(
        hasattr(f, "get_placeholder")
        or (f.target_field if f.is_relation else f).get_internal_type() not in connection.data_types
        for f in fields
    )
    return plain, [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]


def _columns(fields, objs) -> list[list] | None:
    """One list of plain values per field, or None when bulk_create must do it."""
    if any(obj.pk is not None for obj in objs):
        return None
    plain, stamped = _layout(type(objs[0]))
    if not plain:
        return None
    for obj in objs:
        for field in stamped:
            field.pre_save(obj, add=True)
    columns = []
    for field in fields:
        values = [getattr(obj, field.attname) for obj in objs]
        if any(hasattr(v, "as_sql") for v in values):  # F(), a database default…
            return None
        values = _plain(field, values)
        if values is None:
            return None
        columns.append(values)
    return columns


def _plain(field, values: list) -> list | None:
    """`values` as psycopg2 adapts them fastest: JSON as its text, aware datetimes
    as ISO text (both cast back by the array's type), choices (str subclasses,
    adapted slowly) as plain str. None for values to leave to Django (a datetime
    given as a string or without a time zone)."""
    kind = field.get_internal_type()
    if kind == "JSONField":
        encoder = field.encoder
        return [None if v is None else json.dumps(v, cls=encoder) for v in values]
    if kind == "DateTimeField":
        if any(v is not None and (not isinstance(v, dt.datetime) or v.tzinfo is None) for v in values):
            return None
        return [None if v is None else v.isoformat() for v in values]
    if isinstance(field, models.CharField | models.TextField):
        return [v if v is None or v.__class__ is str else str(v) for v in values]
    return values
