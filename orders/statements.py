"""The statements every order's rows go through, written once per database.

Django compiles the SQL of every save(), bulk_create() and update() anew.
For a POST (its order and its first history row), compiling was most of the
time the request held SQLite's write lock, which every writer queues for;
for a worker, the conditional update of each order it moves was a fifth of
its CPU. These statements are written once and run with each row's values,
prepared as Django prepares them (each field's pre_save on insert, then
get_db_prep_save), so defaults, auto_now timestamps and the database's own
encodings are the same.

No save signals are sent: nothing here listens for them.
"""

from django.db import connections, router


class Insert:
    def __init__(self, model) -> None:
        self.model = model
        meta = model._meta
        # As Model.save leaves it out: an auto-incremented id is the database's to give.
        self.fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
        self._sql: dict[str, str] = {}

    def sql(self, connection) -> str:
        if connection.alias not in self._sql:
            quote = connection.ops.quote_name
            columns = ", ".join(quote(field.column) for field in self.fields)
            placeholders = ", ".join(["%s"] * len(self.fields))
            self._sql[connection.alias] = (
                f"INSERT INTO {quote(self.model._meta.db_table)} ({columns}) VALUES ({placeholders})"
            )
        return self._sql[connection.alias]

    def __call__(self, instances) -> None:
        """Insert these unsaved instances, in the current transaction if any.
        Their auto-incremented ids, if any, are not read back."""
        if not instances:
            return
        connection = connections[router.db_for_write(self.model)]
        rows = [
            [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in self.fields]
            for instance in instances
        ]
        with connection.cursor() as cursor:
            if len(rows) == 1:
                cursor.execute(self.sql(connection), rows[0])
            else:
                cursor.executemany(self.sql(connection), rows)
        for instance in instances:
            instance._state.adding = False
            instance._state.db = connection.alias


class ConditionalUpdate:
    """UPDATE one row, by primary key, only while some columns still hold
    the values given: how a worker claims an order, so that of two runs that
    race exactly one moves it. One statement per set of columns written."""

    def __init__(self, model, *, condition: tuple[str, ...]) -> None:
        self.model = model
        self.condition = [model._meta.get_field(name) for name in condition]
        self._sql: dict[tuple, str] = {}

    def sql(self, connection, fields) -> str:
        key = (connection.alias, *(field.name for field in fields))
        if key not in self._sql:
            quote = connection.ops.quote_name
            meta = self.model._meta
            where = [meta.pk, *self.condition]
            self._sql[key] = (
                f"UPDATE {quote(meta.db_table)} SET "
                + ", ".join(f"{quote(field.column)} = %s" for field in fields)
                + " WHERE "
                + " AND ".join(f"{quote(field.column)} = %s" for field in where)
            )
        return self._sql[key]

    def __call__(self, pk, condition: tuple, values: dict) -> bool:
        """Write `values` (field name: value) to the row with this pk if its
        condition columns hold `condition`; whether it did."""
        connection = connections[router.db_for_write(self.model)]
        meta = self.model._meta
        fields = [meta.get_field(name) for name in values]
        written = zip(fields, values.values(), strict=True)
        held = zip(self.condition, condition, strict=True)
        params = [field.get_db_prep_save(value, connection) for field, value in written]
        params.append(meta.pk.get_db_prep_value(pk, connection))
        params += [field.get_db_prep_save(value, connection) for field, value in held]
        with connection.cursor() as cursor:
            cursor.execute(self.sql(connection, fields), params)
            return cursor.rowcount == 1
