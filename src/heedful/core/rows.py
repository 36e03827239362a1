"""Single-row SQL for hot paths, with each statement compiled once per shape.

The ORM compiles every query anew; on the inbound path that compiling cost more
than the database work itself (about 0.3 ms per INSERT against 0.05 ms to run
it). These helpers build the statement from the model's metadata once and
still pass every value through its field's `pre_save` / `get_db_prep_save`, as
`save()` and `update()` do. They skip what those models never use here:
save() overrides and signals (DESIGN.md: no side effects in save()).
"""

from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)

_INSERTS: dict[type[Model], tuple[str, list[Any]]] = {}
_UPDATES: dict[tuple[type[Model], tuple[str, ...]], tuple[str, list[Any]]] = {}
_PROBES: dict[tuple[type[Model], tuple[str, ...]], str] = {}
_VALUE_PROBES: dict[tuple[type[Model], tuple[str, ...], tuple[str, ...], bool], str] = {}


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def insert(obj: M) -> M:
    """`obj.save()` for a new row with an auto-increment primary key; sets `obj.pk`."""
    model = type(obj)
    plan = _INSERTS.get(model)
    if plan is None:
        meta = model._meta
        # Generated columns are computed by the database and cannot be written.
        fields: list[Any] = [
            f for f in meta.local_concrete_fields if not f.primary_key and not f.generated
        ]
        columns = ", ".join(_quote(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        pk_column = _quote(meta.pk.column)
        sql = (
            f"INSERT INTO {_quote(meta.db_table)} ({columns}) VALUES ({marks}) "
            f"RETURNING {pk_column}"
        )
        plan = _INSERTS[model] = (sql, fields)
    sql, fields = plan
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        obj.pk = cursor.fetchone()[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def update(model: type[Model], pk: Any, **values: Any) -> None:
    """`model.objects.filter(pk=pk).update(**values)`; foreign keys by attname (`x_id`)."""
    key = (model, tuple(values))
    plan = _UPDATES.get(key)
    if plan is None:
        meta = model._meta
        fields: list[Any] = [meta.get_field(name) for name in values]
        assignments = ", ".join(f"{_quote(f.column)} = %s" for f in fields)
        pk_column = _quote(meta.pk.column)
        sql = f"UPDATE {_quote(meta.db_table)} SET {assignments} WHERE {pk_column} = %s"
        plan = _UPDATES[key] = (sql, fields)
    sql, fields = plan
    params = [
        f.get_db_prep_save(value, connection)
        for f, value in zip(fields, values.values(), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pk])


def first_id(model: type[Model], **where: Any) -> Any:
    """The primary key of a row whose fields equal `where`, or None.

    Meant for lookups a unique index answers, so "the first" is "the only".
    """
    key = (model, tuple(where))
    sql = _PROBES.get(key)
    if sql is None:
        meta = model._meta
        fields: list[Any] = [meta.get_field(name) for name in where]
        conditions = " AND ".join(f"{_quote(f.column)} = %s" for f in fields)
        pk_column = _quote(meta.pk.column)
        sql = _PROBES[key] = f"SELECT {pk_column} FROM {_quote(meta.db_table)} WHERE {conditions}"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(where.values()))
        row = cursor.fetchone()
    return None if row is None else row[0]


def first_values(
    model: type[Model], columns: tuple[str, ...], *, lock: bool = False, **where: Any
) -> tuple[Any, ...] | None:
    """The named fields of the row whose fields equal `where`, or None; with `lock`,
    the row stays locked until the transaction ends (FOR UPDATE where the database
    has it; SQLite's IMMEDIATE transactions already hold the write lock)."""
    key = (model, columns, tuple(where), lock)
    sql = _VALUE_PROBES.get(key)
    if sql is None:
        meta = model._meta
        selected: list[Any] = [meta.get_field(name) for name in columns]
        wanted = ", ".join(_quote(f.column) for f in selected)
        fields: list[Any] = [meta.get_field(name) for name in where]
        conditions = " AND ".join(f"{_quote(f.column)} = %s" for f in fields)
        sql = f"SELECT {wanted} FROM {_quote(meta.db_table)} WHERE {conditions}"
        if lock and connection.features.has_select_for_update:
            sql += " FOR UPDATE"
        _VALUE_PROBES[key] = sql
    with connection.cursor() as cursor:
        cursor.execute(sql, list(where.values()))
        row = cursor.fetchone()
    return None if row is None else tuple(row)


def any_row(model: type[Model]) -> bool:
    """Whether the table has a row at all (a cheap guard before a costlier lookup)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {_quote(model._meta.db_table)} LIMIT 1")
        return cursor.fetchone() is not None
