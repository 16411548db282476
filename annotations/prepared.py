"""Querysets compiled to SQL once per process and then run with new values.

The claim path runs the same few queries on every request, and Django builds each one's
SQL again every time: for a query with a NOT EXISTS subquery that costs more CPU than
running it on an indexed table. A `PreparedQuery` builds its queryset once with
stand-in values, keeps the SQL, and on each run puts the real values where the stand-ins
were. It gives rows (a `values_list`) or model instances (a plain model queryset, every
column of one model, no `select_related`, and any annotations set on each instance),
converted as Django converts them.
"""
import threading
from collections.abc import Callable
from typing import NamedTuple

from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable

# Two sets of stand-in integers, one value per name: small enough for any integer
# column (Django drops a comparison with a value out of the column's range as always
# true or false), and told apart from constants by building the query with each set.
# Text values get text stand-ins made from the same numbers.
_STAND_INS = (30011, 30311)


class _Slot(str):
    """Where a named value goes among the parameters."""


class _Compiled(NamedTuple):
    sql: str
    slots: list
    converters: list  # (column, converter functions, expression) for columns that need them
    model: type[Model] | None  # set when the query gives model instances
    extras: tuple[str, ...]  # the instances' annotations, after the model's own columns
    width: int  # columns selected


class PreparedQuery:
    """`build(**names)` returns a queryset; every keyword is an integer value (an id, a
    count) that changes from run to run, or text for the names listed in `text`."""

    def __init__(self, build: Callable[..., QuerySet], *names: str, text: tuple[str, ...] = ()):
        self.build = build
        self.names = names + tuple(name for name in text if name not in names)
        self.text = frozenset(text)
        self._compiled: dict[str, _Compiled] = {}  # per database vendor
        self._lock = threading.Lock()

    def _prepared(self) -> _Compiled:
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            compiled = self._compile()
            with self._lock:
                self._compiled[connection.vendor] = compiled
        return compiled

    def _stand_ins(self, base: int) -> dict:
        return {name: f"~{base + n}~" if name in self.text else base + n for n, name in enumerate(self.names)}

    def _compile(self) -> _Compiled:
        """The SQL, and its parameters with each named value's place marked: the places
        where two builds with different stand-ins differ."""
        builds = []
        for base in _STAND_INS:
            stand_ins = self._stand_ins(base)
            queryset = self.build(**stand_ins)
            compiler = queryset.query.get_compiler(using=queryset.db)
            builds.append((stand_ins, compiler, *compiler.as_sql()))
        (first, compiler, sql, params), (_, _, other_sql, other_params) = builds
        if sql != other_sql or len(params) != len(other_params):
            raise ValueError("the built query's SQL depends on the values; it cannot be prepared")
        by_value = {value: name for name, value in first.items()}
        slots = [
            _Slot(by_value[param]) if param != other and param in by_value else param
            for param, other in zip(params, other_params, strict=True)
        ]
        missing = set(self.names) - {slot for slot in slots if isinstance(slot, _Slot)}
        if missing:
            raise ValueError(f"the built query does not use {sorted(missing)} as parameters")
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        converters = [(column, *found) for column, found in compiler.get_converters(columns).items()]
        return _Compiled(sql, slots, converters, *_instance_model(queryset, columns), len(columns))

    def _run(self, values: dict) -> tuple[_Compiled, list]:
        compiled = self._prepared()
        params = [values[slot] if isinstance(slot, _Slot) else slot for slot in compiled.slots]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            found = cursor.fetchall()
        if compiled.converters:
            found = [_converted(row, compiled.converters) for row in found]
        return compiled, found

    def rows(self, **values) -> list[tuple]:
        return self._run(values)[1]

    def instances(self, **values) -> list[Model]:
        compiled, found = self._run(values)
        if compiled.model is None:
            raise TypeError("this query gives rows, not model instances: use rows()")
        if not compiled.extras:
            return [compiled.model.from_db(connection.alias, None, row) for row in found]
        return [_instance(compiled, row) for row in found]

    def first(self, **values) -> Model | None:
        found = self.instances(**values)
        return found[0] if found else None


class PreparedUnion:
    """Several prepared row queries sent as one statement (UNION ALL), for a request that
    would otherwise send them one after another: one round trip instead of one each.
    `parts` are (query, index of the column, or a tuple of them, its rows are ordered by);
    `rows()` gives each part's rows, in that part's order, whatever order the database
    returns them in."""

    def __init__(self, *parts: tuple[PreparedQuery, int | tuple[int, ...]]):
        self.parts = parts
        self._compiled: dict[str, tuple[str, list]] = {}

    def _prepared(self) -> tuple[str, list]:
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            each = [query._prepared() for query, _ in self.parts]
            widest = max(part.width for part in each)
            selects = [
                f"SELECT {n} AS part, part{n}.*{', NULL' * (widest - part.width)} FROM ({part.sql}) part{n}"
                for n, part in enumerate(each)
            ]
            compiled = (" UNION ALL ".join(selects), each)
            self._compiled[connection.vendor] = compiled
        return compiled

    def rows(self, **values) -> list[list[tuple]]:
        sql, parts = self._prepared()
        params = [values[slot] if isinstance(slot, _Slot) else slot for part in parts for slot in part.slots]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        by_part: list[list[tuple]] = [[] for _ in parts]
        for row in found:
            part = parts[row[0]]
            values_of = row[1 : 1 + part.width]
            by_part[row[0]].append(_converted(values_of, part.converters) if part.converters else tuple(values_of))
        for rows, (_, order) in zip(by_part, self.parts, strict=True):
            columns = order if isinstance(order, tuple) else (order,)
            rows.sort(key=lambda row: tuple(row[column] for column in columns))
        return by_part


class PreparedRow:
    """Several prepared queries of model instances, each giving at most one row (a
    `[:1]` queryset), read in one statement: each a derived table left-joined to one
    row, so that a part that finds nothing gives None rather than hiding the others.
    For the request that needs one row of each of several tables: one round trip."""

    def __init__(self, *parts: PreparedQuery):
        self.parts = parts
        self._compiled: dict[str, tuple[str, list[_Compiled]]] = {}

    def _prepared(self) -> tuple[str, list[_Compiled]]:
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            each = [query._prepared() for query in self.parts]
            if any(part.model is None for part in each):
                raise TypeError("every part of a prepared row gives model instances")
            joins = " ".join(f"LEFT JOIN ({part.sql}) part{n} ON 1 = 1" for n, part in enumerate(each))
            compiled = (f"SELECT * FROM (SELECT 1 AS one) one {joins}", each)
            self._compiled[connection.vendor] = compiled
        return compiled

    def first_of_each(self, **values) -> tuple[Model | None, ...]:
        sql, parts = self._prepared()
        params = [values[slot] if isinstance(slot, _Slot) else slot for part in parts for slot in part.slots]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        found, start = [], 1
        for part in parts:
            columns = row[start : start + part.width]
            start += part.width
            if columns[0] is None:  # the primary key: no row for this part
                found.append(None)
                continue
            found.append(_instance(part, _converted(columns, part.converters) if part.converters else columns))
        return tuple(found)


def _instance_model(queryset: QuerySet, columns: list) -> tuple[type[Model] | None, tuple[str, ...]]:
    """The model, when the queryset gives its instances from exactly its own columns,
    and the names of the annotations selected after them (set on each instance)."""
    if queryset._iterable_class is not ModelIterable:
        return None, ()
    model = queryset.model
    extras = tuple(queryset.query.annotation_select)
    own = columns[: len(columns) - len(extras)]
    selected = [getattr(getattr(column, "target", None), "attname", None) for column in own]
    if queryset.query.select_related or selected != [field.attname for field in model._meta.concrete_fields]:
        raise ValueError("only a plain queryset of one model's instances can be prepared")
    return model, extras


def _instance(compiled: _Compiled, row: tuple) -> Model:
    """A model instance from its columns, with the query's annotations set on it."""
    own = len(compiled.model._meta.concrete_fields)
    instance = compiled.model.from_db(connection.alias, None, row[:own])
    for name, value in zip(compiled.extras, row[own:], strict=True):
        setattr(instance, name, value)
    return instance


def _converted(row: tuple, converters: list) -> tuple:
    values = list(row)
    for column, functions, expression in converters:
        value = values[column]
        for convert in functions:
            value = convert(value, expression, connection)
        values[column] = value
    return tuple(values)
