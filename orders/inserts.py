"""INSERTs for the rows every order writes, written once per database.

Django compiles the SQL of every save() and bulk_create() anew. For a POST
(its order and its first history row), compiling was most of the time the
request spent holding SQLite's write lock, which every writer queues for.
These statements are written once and run with each row's values, prepared
as Django prepares them (each field's pre_save, then get_db_prep_save), so
defaults, auto_now timestamps and the database's own encodings are the same.

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
