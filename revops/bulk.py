"""`bulk_create` for the few paths that write thousands of rows at once (the
sweep's breaches and their outbox rows).

Why: Django's `bulk_create` prepares every value of every row through its field
(a dozen Python calls per value); for the 1,000 breaches and 4,000 outbox rows
of a busy sweep pass that preparation was most of the pass's Python time. On
PostgreSQL this takes the instances' plain attribute values, turns the few
kinds psycopg2 adapts slowly into text (`_plain`), and sends one array per
column, `INSERT … SELECT * FROM UNNEST(…)` — the statement shape Django uses
too (a VALUES list of thousands of rows costs the server far more to parse).
Other databases get `bulk_create` itself.
"""

import json

from django.db import connection, models


def insert(objs: list, *, ignore_conflicts: bool = False) -> list:
    """INSERT unsaved instances of one model (with an auto primary key) and, unless
    conflicts are ignored, set their primary keys, as `bulk_create` does."""
    if not objs:
        return objs
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs, ignore_conflicts=ignore_conflicts)
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    for obj in objs:
        for field in stamped:
            field.pre_save(obj, add=True)
    columns = []
    for field in fields:
        values = [getattr(obj, field.attname) for obj in objs]
        plain = _plain(field)
        columns.append(list(map(plain, values)) if plain else values)
    quote = connection.ops.quote_name
    # db_type without its modifier (varchar[], not varchar(50)[]), as Django does.
    arrays = ", ".join(f"(%s)::{f.db_type(connection).split('(')[0]}[]" for f in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT * FROM UNNEST({arrays})"
        + (" ON CONFLICT DO NOTHING" if ignore_conflicts else f" RETURNING {quote(meta.pk.column)}")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, columns)
        ids = None if ignore_conflicts else cursor.fetchall()
    if ids is not None:
        for obj, (pk,) in zip(objs, ids, strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias
    return objs


def _plain(field):
    """What psycopg2 adapts fastest for a column, or None to send values as they
    are: JSON as its text, aware datetimes as ISO text (both cast back by the
    array's type), and choices (str subclasses, adapted slowly) as plain str."""
    kind = field.get_internal_type()
    if kind == "JSONField":
        encoder = field.encoder
        return lambda v: None if v is None else json.dumps(v, cls=encoder)
    if kind == "DateTimeField":
        return lambda v: v.isoformat() if v is not None and v.tzinfo is not None else v
    if isinstance(field, models.CharField | models.TextField):
        return lambda v: v if v is None or v.__class__ is str else str(v)
    return None
