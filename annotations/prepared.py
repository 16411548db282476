"""Querysets compiled to SQL once per process and then run with new values.

The claim path runs the same few queries on every request, and Django builds each one's
SQL again every time: for a query with a NOT EXISTS subquery that costs more CPU than
running it on an indexed table. A `PreparedQuery` builds its queryset once with
stand-in values, keeps the SQL, and on each run puts the real values where the stand-ins
were. Only for value lists of plain columns: no model instances, no converters.
"""
import threading
from collections.abc import Callable

from django.db import connection
from django.db.models import QuerySet

# Two sets of stand-in integers, one value per name: small enough for any integer
# column (Django drops a comparison with a value out of the column's range as always
# true or false), and told apart from constants by building the query with each set.
_STAND_INS = (30011, 30311)


class _Slot(str):
    """Where a named value goes among the parameters."""


class PreparedQuery:
    """`build(**names)` returns a `values_list` queryset; every keyword is an integer
    value (an id, a count) that changes from run to run."""

    def __init__(self, build: Callable[..., QuerySet], *names: str):
        self.build = build
        self.names = names
        self._compiled: dict[str, tuple[str, list]] = {}  # per database vendor
        self._lock = threading.Lock()

    def _sql(self) -> tuple[str, list]:
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            compiled = self._compile()
            with self._lock:
                self._compiled[connection.vendor] = compiled
        return compiled

    def _compile(self) -> tuple[str, list]:
        """The SQL, and its parameters with each named value's place marked: the places
        where two builds with different stand-ins differ."""
        builds = []
        for base in _STAND_INS:
            stand_ins = {name: base + n for n, name in enumerate(self.names)}
            builds.append((stand_ins, *self.build(**stand_ins).query.sql_with_params()))
        (first, sql, params), (_, other_sql, other_params) = builds
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
        return sql, slots

    def rows(self, **values: int) -> list[tuple]:
        sql, slots = self._sql()
        params = [values[slot] if isinstance(slot, _Slot) else slot for slot in slots]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
