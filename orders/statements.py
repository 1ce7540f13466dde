"""The statements every order's rows go through, written once per database.

Django compiles the SQL of every query, save(), bulk_create() and update()
anew. For a POST (its order and its first history row), compiling was most
of the time the request held SQLite's write lock, which every writer queues
for; for a worker, the conditional update of each order it moves was a fifth
of its CPU; for a socket, its snapshot's select took four times as long to
compile as to run. These statements are written once and run with each
row's values, prepared as Django prepares them (each field's pre_save on
insert, then get_db_prep_save) and read back through the converters its
compiler would apply, so defaults, auto_now timestamps and the database's
own encodings are the same.

No save signals are sent: nothing here listens for them.
"""

from django.db import connections, router

from config.compiled import Statement, converted


class Insert(Statement):
    def __init__(self, model) -> None:
        super().__init__(model)
        meta = model._meta
        # As Model.save leaves it out: an auto-incremented id is the database's to give.
        self.fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]

    def sql(self, connection) -> str:
        return self._per_database(connection, self._write)

    def _write(self, connection) -> str:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self.fields)
        placeholders = ", ".join(["%s"] * len(self.fields))
        return f"INSERT INTO {quote(self.model._meta.db_table)} ({columns}) VALUES ({placeholders})"

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


class ConditionalUpdate(Statement):
    """UPDATE one row, by primary key, only while some columns still hold
    the values given: how a worker claims an order, so that of two runs that
    race exactly one moves it. One statement per set of columns written."""

    def __init__(self, model, *, condition: tuple[str, ...]) -> None:
        super().__init__(model)
        self.condition = [model._meta.get_field(name) for name in condition]

    def sql(self, connection, fields) -> str:
        def write(connection) -> str:
            quote = connection.ops.quote_name
            meta = self.model._meta
            where = [meta.pk, *self.condition]
            return (
                f"UPDATE {quote(meta.db_table)} SET "
                + ", ".join(f"{quote(field.column)} = %s" for field in fields)
                + " WHERE "
                + " AND ".join(f"{quote(field.column)} = %s" for field in where)
            )

        return self._per_database(connection, write, *(field.name for field in fields))

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


class RowWithChildren(Statement):
    """One row and the rows that point to it, by one LEFT JOIN: they agree,
    as two queries might not, and a row with no children yet is one row
    with NULLs. Returns (row, [children]), or None if there is no such row.
    Made with the models' module, so their fields are looked up on first use."""

    def __init__(self, model, children, *, via: str, order_by: tuple[str, ...]) -> None:
        super().__init__(model)
        self.children, self.via, self.order_by = children, via, order_by

    def _write(self, connection) -> tuple[str, list]:
        quote = connection.ops.quote_name
        parent_meta, child_meta = self.model._meta, self.children._meta
        pk = quote(parent_meta.pk.column)
        columns = [f"p.{quote(field.column)}" for field in parent_meta.concrete_fields]
        columns += [f"c.{quote(field.column)}" for field in child_meta.concrete_fields]
        via = quote(child_meta.get_field(self.via).column)
        order_by = ", ".join(f"c.{quote(child_meta.get_field(name).column)}" for name in self.order_by)
        sql = (
            f"SELECT {', '.join(columns)} FROM {quote(parent_meta.db_table)} p "
            f"LEFT JOIN {quote(child_meta.db_table)} c ON c.{via} = p.{pk} "
            f"WHERE p.{pk} = %s ORDER BY {order_by}"
        )
        # (column index, converter, the column's expression), as the compiler applies them.
        converters = []
        for index, field in enumerate((*parent_meta.concrete_fields, *child_meta.concrete_fields)):
            column = field.get_col(field.model._meta.db_table)
            for converter in connection.ops.get_db_converters(column) + field.get_db_converters(connection):
                converters.append((index, converter, column))
        return sql, converters

    def __call__(self, pk):
        connection = connections[router.db_for_read(self.model)]
        sql, converters = self._per_database(connection, self._write)
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.model._meta.pk.get_db_prep_value(pk, connection)])
            rows = cursor.fetchall()
        if not rows:
            return None
        parent_names = [field.attname for field in self.model._meta.concrete_fields]
        child_names = [field.attname for field in self.children._meta.concrete_fields]
        split, parent, children = len(parent_names), None, []
        for row in rows:
            values = converted(row, converters, connection)
            if parent is None:
                parent = self.model.from_db(connection.alias, parent_names, values[:split])
            if values[split] is not None:  # the child's primary key: NULL when it has none
                child = self.children.from_db(connection.alias, child_names, values[split:])
                setattr(child, self.via, parent)
                children.append(child)
        return parent, children
