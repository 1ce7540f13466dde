"""Pool state of the mock market.

One row per pool. Raydium pools keep their two reserves; Meteora pools keep
their bins as JSON (`{"<bin id>": [x, y]}`), which is read whole (a pool
has a few hundred bins, and a swap reads them all anyway) and written from
each bin's kept text (DlmmPool.bins_json). (Rows written before kept x and y
as strings; both read the same.)

Every save raises `version`, so a process that keeps a pool's state in
memory (routing.session) knows whether the row has moved since.
"""

from fractions import Fraction

from django.db import connections, models, router
from django.utils import timezone

from config.compiled import Statement
from routing.amm import ConstantProductPool
from routing.dlmm import DlmmPool, FeeParameters
from routing.tokens import TOKENS, Token


class BaseUnitsField(models.CharField):
    """A non-negative integer of base units, stored as decimal text.

    Reserves of BONK run to 10**16 base units and their products far past
    64 bits; SQLite would turn such numbers into floats and lose digits.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("default", "0")
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        return None if value is None else int(value)

    def to_python(self, value):
        if value is None or isinstance(value, int):
            return value
        return int(value)

    def get_prep_value(self, value):
        return None if value is None else str(int(value))


# What a DLMM pool's row copies from its state, by the same names, besides the bins.
DLMM_STATE = (
    "active_id",
    "volatility_accumulator",
    "volatility_reference",
    "index_reference",
    "last_update_timestamp",
)


class Dex(models.TextChoices):
    RAYDIUM = "raydium", "Raydium"
    METEORA = "meteora", "Meteora"


class Pool(models.Model):
    dex = models.CharField(max_length=16, choices=Dex.choices)
    address = models.CharField(max_length=44, unique=True)
    # Token A is the base (DLMM's X), token B the quote (Y); prices are B per A.
    token_a = models.CharField(max_length=16)
    token_b = models.CharField(max_length=16)
    # Raydium: the reserves. Meteora: the sums over all bins, kept for display.
    reserve_a = BaseUnitsField()
    reserve_b = BaseUnitsField()
    # Raydium's trade fee, out of 10_000.
    fee_bps = models.PositiveIntegerField(default=25)
    # Meteora DLMM only.
    bin_step = models.PositiveIntegerField(null=True, blank=True)
    active_id = models.IntegerField(null=True, blank=True)
    bins = models.JSONField(default=dict, blank=True)
    base_factor = models.PositiveIntegerField(default=0)
    variable_fee_control = models.PositiveIntegerField(default=0)
    filter_period = models.PositiveIntegerField(default=30)
    decay_period = models.PositiveIntegerField(default=600)
    reduction_factor = models.PositiveIntegerField(default=5_000)
    max_volatility_accumulator = models.PositiveIntegerField(default=350_000)
    volatility_accumulator = models.PositiveIntegerField(default=0)
    volatility_reference = models.PositiveIntegerField(default=0)
    index_reference = models.IntegerField(default=0)
    last_update_timestamp = models.BigIntegerField(default=0)
    # Swaps executed for orders (the background drift is not counted): an
    # audit figure, and how tests prove that no order swapped twice.
    swaps_executed = models.PositiveBigIntegerField(default=0)
    version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dex", "token_a", "token_b"], name="one_pool_per_dex_and_pair"),
        ]
        ordering = ["token_a", "token_b", "dex"]

    def __str__(self):
        return f"{self.get_dex_display()} {self.pair}"

    def save(self, *args, **kwargs):
        # Writers hold the row (select_for_update), so versions never collide.
        self.version += 1
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = [*kwargs["update_fields"], "version"]
        super().save(*args, **kwargs)

    @property
    def pair(self) -> str:
        return f"{self.token_a}/{self.token_b}"

    @property
    def base(self) -> Token:
        return TOKENS[self.token_a]

    @property
    def quote(self) -> Token:
        return TOKENS[self.token_b]

    def state(self) -> ConstantProductPool | DlmmPool:
        """The pool as the swap arithmetic sees it."""
        if self.dex == Dex.RAYDIUM:
            return ConstantProductPool(
                reserve_a=self.reserve_a, reserve_b=self.reserve_b, fee_numerator=self.fee_bps
            )
        return DlmmPool(
            bin_step=self.bin_step,
            active_id=self.active_id,
            bins={int(i): [int(x), int(y)] for i, (x, y) in self.bins.items()},
            fees=FeeParameters(
                base_factor=self.base_factor,
                variable_fee_control=self.variable_fee_control,
                filter_period=self.filter_period,
                decay_period=self.decay_period,
                reduction_factor=self.reduction_factor,
                max_volatility_accumulator=self.max_volatility_accumulator,
            ),
            volatility_accumulator=self.volatility_accumulator,
            volatility_reference=self.volatility_reference,
            index_reference=self.index_reference,
            last_update_timestamp=self.last_update_timestamp,
        )

    def write(self, state: ConstantProductPool | DlmmPool, *, swaps: int = 0) -> None:
        """Copy `state` onto the row and save it, with `swaps` more swaps
        executed, in one UPDATE written once per database and set of
        columns. Model.save built and compiled it anew each time: a tenth of
        a worker's admission round at 100 orders/s, in the round's
        transaction, while it holds the write lock each placement queues
        for. Call it where the row is held (select_for_update): its version
        goes up by one. A DLMM pool's bins go as the text its state keeps
        (DlmmPool.bins_json), not as a dict to encode; read again, the field
        loads from the row."""
        self.reserve_a, self.reserve_b = state.depth()
        values = {"reserve_a": self.reserve_a, "reserve_b": self.reserve_b}
        if isinstance(state, DlmmPool):
            for name in DLMM_STATE:
                values[name] = getattr(state, name)
                setattr(self, name, values[name])
            self.__dict__.pop("bins", None)
        self.version += 1
        self.swaps_executed += swaps
        self.updated_at = timezone.now()
        connection = connections[router.db_for_write(Pool)]
        params = [
            self._meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()
        ]
        bins = isinstance(state, DlmmPool)
        if bins:
            params.append(state.bins_json())
        params += [
            swaps,
            self._meta.get_field("updated_at").get_db_prep_save(self.updated_at, connection),
            self.pk,
        ]
        with connection.cursor() as cursor:
            cursor.execute(_state_update.sql(connection, tuple(values), bins), params)

    def price(self) -> Fraction:
        """Whole token B per whole token A at the pool's spot price. A DLMM
        pool's is its active bin's, read without building its state: that
        parses every bin, which every trigger check paid for each pool."""
        if self.dex == Dex.RAYDIUM:
            return self.state_price(self.state())
        return DlmmPool.bin_price(self.active_id, self.bin_step) * self._wholes_per_base_unit()

    def state_price(self, state) -> Fraction:
        return state.spot_price() * self._wholes_per_base_unit()

    def _wholes_per_base_unit(self) -> Fraction:
        """A price in base units of B per base unit of A, times this, is in whole B per whole A."""
        return Fraction(10**self.base.decimals, 10**self.quote.decimals)


class _StateUpdate(Statement):
    """The UPDATE of Pool.write, for some columns (and the bins)."""

    def sql(self, connection, names: tuple[str, ...], bins: bool) -> str:
        return self._per_database(
            connection, lambda connection: self._write(connection, names, bins), names, bins
        )

    def _write(self, connection, names: tuple[str, ...], bins: bool) -> str:
        quote = connection.ops.quote_name
        meta = self.model._meta
        assignments = [f"{quote(meta.get_field(name).column)} = %s" for name in names]
        if bins:
            jsonb = "::jsonb" if connection.vendor == "postgresql" else ""
            assignments.append(f"{quote('bins')} = %s{jsonb}")
        swaps, version = quote("swaps_executed"), quote("version")
        assignments += [
            f"{swaps} = {swaps} + %s",
            f"{version} = {version} + 1",
            f"{quote('updated_at')} = %s",
        ]
        return (
            f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} WHERE {quote(meta.pk.column)} = %s"
        )


_state_update = _StateUpdate(Pool)
