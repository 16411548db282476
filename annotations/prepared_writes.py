"""UPDATE and INSERT statements compiled to SQL once per process, then run with new values.

The read side of the claim and submit paths is compiled once (annotations/prepared.py);
the writes were still built by the ORM on every request, and resolving an
`F("n") + 1` or saving a new row costs more CPU than the statement itself. Django's own
compilers write the SQL here, once per database vendor, with a `Param` placeholder where
each run's value goes; a run fills the placeholders, converting each value as the
model field would (a datetime, a UUID or JSON for this database), and executes.
"""
import threading
from abc import ABC, abstractmethod
from types import SimpleNamespace

from django.db import connection
from django.db.models import Expression, Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery, UpdateQuery
from django.utils import timezone


class _Slot(str):
    """Where a named value goes among the parameters."""


class Param(Expression):
    """A value given at run time, by name. `field` converts it for the database; leave it
    out for integers and text, which every backend takes as they are."""

    def __init__(self, name: str, field=None):
        super().__init__(output_field=field)
        self.name = name

    def as_sql(self, compiler, connection):
        return "%s", [_Slot(self.name)]


class _Statement(ABC):
    """SQL with marked places, per vendor, and the fields that convert each place's value."""

    def __init__(self):
        self._compiled: dict[str, tuple[str, list]] = {}
        self._lock = threading.Lock()

    @abstractmethod
    def _compile(self) -> tuple[str, tuple, dict]:
        """The SQL, its parameters (`_Slot`s where values go) and the field of each slot."""

    def _prepared(self) -> tuple[str, list]:
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            sql, params, fields = self._compile()
            slots = [(param, fields.get(param)) if isinstance(param, _Slot) else param for param in params]
            compiled = (sql, slots)
            with self._lock:
                self._compiled[connection.vendor] = compiled
        return compiled

    def _params(self, slots: list, values: dict) -> list:
        params = []
        for slot in slots:
            if not isinstance(slot, tuple):
                params.append(slot)
                continue
            name, field = slot
            try:
                value = values[name]
            except KeyError:
                raise TypeError(f"no value given for {name!r}") from None
            params.append(field.get_db_prep_save(value, connection) if field is not None else value)
        return params


class PreparedUpdate(_Statement):
    """`build()` returns (queryset, {field name: new value}); its filters and new values
    name run-time values with `Param`. `run(**values)` returns the rows changed."""

    def __init__(self, build):
        super().__init__()
        self.build = build

    def _compile(self):
        queryset, changes = self.build()
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(changes)
        sql, params = query.get_compiler(queryset.db).as_sql()
        fields = {value.name: queryset.model._meta.get_field(name) for name, value in changes.items()
                  if isinstance(value, Param)}
        return sql, params, fields

    def run(self, **values) -> int:
        sql, slots = self._prepared()
        with connection.cursor() as cursor:
            cursor.execute(sql, self._params(slots, values))
            return cursor.rowcount


class PreparedInsert(_Statement):
    """One new row of `model` with the values of `names` (attribute names: `item_id`),
    every other column at its default; `run(**values)` returns the new row's primary key.
    `auto_now` and `auto_now_add` columns must be named and are filled in when a run
    leaves them out. With `update_fields` and `unique_fields`, a row that exists under
    the unique fields is updated instead (INSERT ... ON CONFLICT DO UPDATE)."""

    def __init__(self, model: type[Model], *names: str, update_fields=(), unique_fields=()):
        super().__init__()
        self.model = model
        self.names = names
        self.update_fields = update_fields
        self.unique_fields = unique_fields
        by_attname = {field.attname: field for field in model._meta.concrete_fields}
        unknown = set(names) - set(by_attname)
        if unknown:
            raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
        self._columns = [field for field in model._meta.concrete_fields if not field.primary_key]
        self._now_fields = [f.attname for f in self._columns if getattr(f, "auto_now", False) or
                            getattr(f, "auto_now_add", False)]
        unnamed = set(self._now_fields) - set(names)
        if unnamed:
            raise ValueError(f"name the time stamps {sorted(unnamed)}: a default would be compiled in")

    def _compile(self):
        meta = self.model._meta
        row = SimpleNamespace(**{
            field.attname: Param(field.attname, field) if field.attname in self.names else field.get_default()
            for field in self._columns
        })
        query = InsertQuery(
            self.model,
            on_conflict=OnConflict.UPDATE if self.update_fields else None,
            update_fields=[meta.get_field(name) for name in self.update_fields],
            unique_fields=[meta.get_field(name) for name in self.unique_fields],
        )
        query.insert_values(self._columns, [row], raw=True)  # raw: no pre_save, the values are given
        compiler = query.get_compiler(connection.alias)
        compiler.returning_fields = [meta.pk]
        [(sql, params)] = compiler.as_sql()
        return sql, params, {field.attname: field for field in self._columns}

    def run(self, **values) -> int:
        sql, slots = self._prepared()
        if any(name not in values for name in self._now_fields):
            now = timezone.now()
            values = {**{name: now for name in self._now_fields}, **values}
        with connection.cursor() as cursor:
            cursor.execute(sql, self._params(slots, values))
            return cursor.fetchone()[0]
