"""`bulk_create` for the few paths that write thousands of rows at once (the
sweep's breaches and their outbox rows).

Why: Django's `bulk_create` prepares every value of every row through its field
(a dozen Python calls per value); for the 1,000 breaches and 4,000 outbox rows
of a busy sweep pass that preparation was most of the pass. On PostgreSQL this
sends the instances' plain attribute values through psycopg2's
`execute_values` instead — only JSON values go through their field, for the
adapter they need. Other databases get `bulk_create` itself.
"""

from django.db import connection


def insert(objs: list, *, ignore_conflicts: bool = False) -> list:
    """INSERT unsaved instances of one model (with an auto primary key) and, unless
    conflicts are ignored, set their primary keys, as `bulk_create` does."""
    if not objs:
        return objs
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs, ignore_conflicts=ignore_conflicts)
    from psycopg2.extras import execute_values

    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    json = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    rows = []
    for obj in objs:
        for field in stamped:
            field.pre_save(obj, add=True)
        row = [getattr(obj, field.attname) for field in fields]
        for i in json:
            row[i] = fields[i].get_db_prep_save(row[i], connection)
        rows.append(row)
    quote = connection.ops.quote_name
    sql = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES %s" + (
        " ON CONFLICT DO NOTHING" if ignore_conflicts else f" RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        # Through Django's cursor, so the statement is logged and counted like any other.
        ids = execute_values(cursor, sql, rows, page_size=len(rows), fetch=not ignore_conflicts)
    if not ignore_conflicts:
        for obj, (pk,) in zip(objs, ids, strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias
    return objs
