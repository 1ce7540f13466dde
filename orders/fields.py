from django.db import models


class ExactDecimalField(models.DecimalField):
    """A DecimalField that keeps every digit on SQLite too.

    SQLite gives a decimal column numeric affinity and keeps its numbers as
    64-bit floats, 15 significant digits: an order of 123456789.123456789 SOL
    (9 decimals, under the maximum amount, so accepted) was stored, routed and
    shown as 123456789.123457. On SQLite the column is text instead, and the
    engine's backend writes and reads it as exact decimals
    (config/sqlite/base.py). PostgreSQL's numeric is exact already.

    Text does not compare as a number in SQL. Nothing compares these columns
    there (waiting limit orders are found by their float `trigger_price`), and
    the admin sorts them through a cast.
    """

    def db_type(self, connection):
        if connection.vendor == "sqlite":
            return "text"
        return super().db_type(connection)
