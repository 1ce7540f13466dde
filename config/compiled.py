"""Queries Django compiles once per database and arguments, then runs as SQL.

Building a QuerySet and compiling it costs more than running it for the
small queries every admission round makes. On SQLite, on this project's
2-core machines: the round's pools 644 µs through the ORM against 180 µs as
compiled SQL, its ready orders 656 against 163, the check for orders waiting
on a pair 340 against 46. The one for the pools runs while the round holds
the database's write lock, which each placement queues for.

A CompiledQuery keeps the SQL and parameters Django made the first time it
ran with some arguments on some database, and runs them again as they are:
rows come back as model instances, through the converters and in the field
order the compiler chose (as QuerySet iteration makes them; columns not
selected are deferred fields), counts and existence as numbers.
It is for queries whose SQL depends on nothing but their arguments: not on
the time, the settings or the data. A Statement is the same idea for SQL
written by hand (orders.statements, Pool.write): made once per database.
"""

from collections.abc import Callable, Hashable

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.transaction import TransactionManagementError

# Arguments are a few kinds of each (pairs, batch sizes, pool ids); this only bounds a mistake.
MAX_KEPT = 512


class Statement:
    """What a statement written by hand needs per database (its SQL, its
    converters), made the first time it runs there."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self._made: dict = {}

    def _per_database(self, connection, make, *key):
        key = (connection.alias, *key)
        if key not in self._made:
            self._made[key] = make(connection)
        return self._made[key]


class CompiledQuery:
    def __init__(self, model: type[Model], make: Callable[..., QuerySet]):
        """`make(*arguments)` builds the QuerySet; the arguments must be hashable."""
        self.model, self.make = model, make
        # (database, kind, arguments) -> (SQL, parameters, whether it locks rows, reader)
        self._kept: dict[tuple, tuple] = {}

    def _compiled(self, kind: str, arguments: tuple[Hashable, ...]) -> tuple:
        """(database, SQL, parameters, reader); no SQL for a query that can
        match nothing (`pk__in=[]`), which Django answers without asking. The
        reader, for rows: the fields they hold, in order, and their converters."""
        alias = router.db_for_read(self.model)
        compiled = self._kept.get((alias, kind, arguments))
        if compiled is None:
            compiled = self._compile(alias, kind, arguments)
        sql, params, locks, reader = compiled
        if locks:
            # As the ORM does it: rows to lock come from the database written
            # to, inside a transaction (Django checks that only as it compiles).
            alias = router.db_for_write(self.model)
            sql, params, locks, reader = self._kept.get((alias, kind, arguments)) or self._compile(
                alias, kind, arguments
            )
            connection = connections[alias]
            if connection.features.has_select_for_update and connection.get_autocommit():
                raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        return alias, sql, params, reader

    def _compile(self, alias: str, kind: str, arguments: tuple) -> tuple:
        if len(self._kept) >= MAX_KEPT:
            self._kept.clear()
        queryset = self.make(*arguments)
        if kind == "count":
            queryset = queryset.order_by().values("pk")
        query = queryset.query.exists() if kind == "exists" else queryset.query
        compiler = query.get_compiler(alias)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            sql, params = None, ()
        reader = _reader(compiler) if kind == "rows" and sql is not None else None
        if kind == "count" and sql is not None:
            sql = f"SELECT COUNT(*) FROM ({sql}) counted"
        compiled = self._kept[(alias, kind, arguments)] = (
            sql,
            tuple(params),
            query.select_for_update,
            reader,
        )
        return compiled

    def rows(self, *arguments) -> list:
        alias, sql, params, reader = self._compiled("rows", arguments)
        if sql is None:
            return []
        fields, converters = reader
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [self.model.from_db(alias, fields, converted(row, converters, connection)) for row in rows]

    def count(self, *arguments) -> int:
        return self._scalar("count", arguments) or 0

    def exists(self, *arguments) -> bool:
        return self._scalar("exists", arguments) is not None

    def _scalar(self, kind: str, arguments: tuple):
        alias, sql, params, _ = self._compiled(kind, arguments)
        if sql is None:
            return None
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else row[0]


def _reader(compiler) -> tuple[list[str], list]:
    """What turns the rows of a compiled query of one model's own columns
    (no joins, annotations or extra selects) into its instances: the fields
    they hold, in order, and (column, converter, expression) for each
    converter its compiler would apply."""
    selected = [expression for expression, _sql, _alias in compiler.select]
    if compiler.klass_info is None or len(compiler.klass_info["select_fields"]) != len(selected):
        raise ValueError("CompiledQuery reads rows of one model's own columns only")
    fields = [expression.target.attname for expression in selected]
    converters = [
        (index, convert, expression)
        for index, (converters, expression) in compiler.get_converters(selected).items()
        for convert in converters
    ]
    return fields, converters


def converted(row, converters, connection) -> list:
    """A row's values through (column, converter, expression) converters, as
    a compiler applies them."""
    values = list(row)
    for index, convert, expression in converters:
        values[index] = convert(values[index], expression, connection)
    return values
