"""`bulk_create` for the hot write paths: the sweep's thousands of breaches and
outbox rows at once, and intake's handful of single rows per lead.

Why: Django's `bulk_create` prepares every value of every row through its field
(a dozen Python calls per value); for the 1,000 breaches and 4,000 outbox rows
of a busy sweep pass that preparation was most of the pass's Python time. On
PostgreSQL this takes the instances' plain attribute values, turns the few
kinds psycopg2 adapts slowly into text (`_converters`), and sends one array per
column, `INSERT … SELECT * FROM UNNEST(…)` — the statement shape Django uses
too (a VALUES list of thousands of rows costs the server far more to parse);
a single row (intake writes its rows one by one) goes as plain VALUES.
Other databases get `bulk_create` itself.

`together()` sends the inserts of a block in one round trip at its end, with
ids reserved beforehand (`reserve()`): intake writes ten rows for a new person
(nine statements), and each round trip cost both processes more than its row.
"""

import contextlib
import datetime as dt
import functools
import json
import threading

from django.db import connection, models, transaction
from django.db.transaction import TransactionManagementError

_local = threading.local()  # the queue of the thread's `together` block


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
    queue = getattr(_local, "queue", None)
    if queue is not None and queue.add(model, objs, rows, ignore_conflicts):
        return objs
    single = len(objs) == 1
    sql = _statement(model, ignore_conflicts, single)
    with connection.cursor() as cursor:
        # One row: its values; several: one array per column (see _statement).
        cursor.execute(sql, rows[0] if single else _arrays(rows))
        ids = None if ignore_conflicts else cursor.fetchall()
    for i, obj in enumerate(objs):
        if ids is not None:
            obj.pk = ids[i][0]
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


@functools.cache
def _fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def reserve(*models) -> dict:
    """New primary keys from the tables' own sequences, one per entry of
    `models` (repeat a model for more), in one statement: for rows written
    `together`, whose callers use their ids before the write. An id left
    unused is a gap, as after any rollback. {} where rows cannot go
    `together` (see multi_statement)."""
    select, params = reserving(models)
    if not select:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select}", params)
        return reserved(models, cursor.fetchone())


def reserving(models) -> tuple[str, list]:
    """`reserve`'s select list and parameters, for a caller that puts them
    into a query of its own (one round trip less): ("", []) where rows cannot
    go `together`."""
    if not models or not multi_statement():
        return "", []
    return ", ".join("nextval(%s::regclass)" for _ in models), [_sequence(m) for m in models]


def reserved(models, ids) -> dict:
    """{model: [ids]} from the values that `reserving`'s select list returned."""
    out = {}
    for model, pk in zip(models, ids, strict=True):
        out.setdefault(model, []).append(pk)
    return out


def multi_statement() -> bool:
    """Whether one execute() may carry several statements with parameters:
    PostgreSQL through psycopg2 (client-side parameters, one simple query).
    psycopg 3, which Django would prefer if installed, binds parameters on
    the server, where a query holds one statement."""
    if connection.vendor != "postgresql":
        return False  # and the PostgreSQL driver module is never imported
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return not is_psycopg3


@functools.cache
def _sequence(model) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [model._meta.db_table, model._meta.pk.column])
        name = cursor.fetchone()[0]
    if name is None:
        raise TypeError(f"{model._meta.label}'s primary key has no sequence to reserve ids from")
    return name


@contextlib.contextmanager
def together(reserved: dict):
    """Queue the inserts made inside the block and send them as one
    multi-statement query at its end, inside the caller's transaction.

    A row takes its id from `reserved` at once, so code inside the block uses
    obj.pk as before. An insert without a reserved id, and any other
    statement run inside the block (a read, an update), first sends the queue:
    everything reaches the database in the order it was written. Rows whose
    conflicts are ignored (the outbox) need no id. On an exception the queue
    is dropped and the caller's transaction marked to roll back; if sending
    the queue failed, the block fails at its end even when the statement that
    triggered the send had its error caught. Without reserved ids, or where
    statements cannot go together (see multi_statement), it changes nothing.
    Blocks do not nest: an inner block's ids would be mixed with the outer's."""
    if getattr(_local, "queue", None) is not None and reserved:
        raise TransactionManagementError("bulk.together() blocks do not nest")
    if not reserved or not multi_statement():
        yield
        return
    if not connection.in_atomic_block:
        raise TransactionManagementError("bulk.together() must run inside a transaction")
    queue = _Queue(reserved)
    _local.queue = queue
    try:
        with connection.execute_wrapper(queue.send_first):
            yield
            queue.send()
        if queue.failed is not None:
            # A send failed inside the block and someone caught the error of
            # the statement that triggered it: the rows are not there.
            raise TransactionManagementError(
                "rows of a bulk.together() block were not written"
            ) from queue.failed
    except BaseException:
        # Rows callers believe written are dropped: the transaction must not
        # commit without them, even if the caller swallows this exception.
        transaction.set_rollback(True)
        raise
    finally:
        _local.queue = None


class _Queue:
    def __init__(self, reserved: dict):
        self.reserved = {model: list(ids) for model, ids in reserved.items()}
        self.statements: list[tuple[str, list]] = []
        self.sending = False
        self.failed: BaseException | None = None

    def add(self, model, objs, rows, ignore_conflicts: bool) -> bool:
        """Queue the INSERT of `objs`; False when it must run now (no ids left)."""
        single = len(objs) == 1
        if ignore_conflicts:
            params = rows[0] if single else _arrays(rows)
            self.statements.append((_statement(model, True, single), params))
        else:
            ids = self.reserved.get(model, [])
            if len(ids) < len(objs):
                return False
            for obj, row in zip(objs, rows, strict=True):
                obj.pk = ids.pop(0)
                row.insert(0, obj.pk)
            params = rows[0] if single else _arrays(rows)
            self.statements.append((_statement(model, False, single, with_pk=True), params))
        for obj in objs:
            obj._state.adding, obj._state.db = False, connection.alias
        return True

    def send(self):
        if not self.statements:
            return
        sql = ";\n".join(statement for statement, _ in self.statements)
        params = [value for _, values in self.statements for value in values]
        self.statements = []
        self.sending = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        except BaseException as exc:
            self.failed = exc
            raise
        finally:
            self.sending = False

    def send_first(self, execute, sql, params, many, context):
        # Django's execute wrapper: any statement of the block goes after the queue.
        if self.statements and not self.sending:
            self.send()
        return execute(sql, params, many, context)


def _arrays(rows: list[list]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


@functools.cache
def _statement(model, ignore_conflicts: bool, single: bool, *, with_pk: bool = False) -> str:
    """The INSERT for `model`, built once (intake runs several per request). One
    row goes as VALUES: UNNEST's arrays cost the server ~0.3 ms more to plan,
    which only pays off over many rows. `with_pk`: the ids come with the
    rows (reserved, see together()), so nothing is returned."""
    meta, fields = model._meta, _fields(model)
    if with_pk:
        fields = [meta.pk, *fields]
    quote = connection.ops.quote_name
    if single:
        rows = f"VALUES ({', '.join('%s' for _ in fields)})"
    else:
        # db_type without its modifier (varchar[], not varchar(50)[]), as Django does.
        rows = "SELECT * FROM UNNEST({})".format(
            ", ".join(f"(%s)::{f.db_type(connection).split('(')[0]}[]" for f in fields)
        )
    sql = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) {rows}"
    if ignore_conflicts:
        return sql + " ON CONFLICT DO NOTHING"
    return sql if with_pk else sql + f" RETURNING {quote(meta.pk.column)}"


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
