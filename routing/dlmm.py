"""Meteora's DLMM: liquidity in discrete price bins, with a dynamic fee.

Bin `i` has the price (1 + bin_step / 10_000) ** i, in base units of Y per
base unit of X, held as a Q64.64 fixed-point integer as the program does.
Inside a bin the price is constant (no price impact); a swap drains the
active bin and walks on to the next one. Bins above the active one hold only
X, bins below it only Y.

The fee follows the lb_clmm program (rates in units of 1e-9):

    base_fee     = base_factor * bin_step * 10
    variable_fee = ceil(variable_fee_control * (volatility_accumulator * bin_step) ** 2 / 1e11)
    fee_rate     = min(base_fee + variable_fee, 10%)

At the start of a swap, if at least `filter_period` seconds passed since the
last one, the reference bin moves to the active bin and the volatility
reference decays (`* reduction_factor / 10_000`, or to 0 after
`decay_period`). Before each bin is swapped the accumulator becomes
`volatility_reference + |index_reference - active_id| * 10_000`, capped, so
a swap that crosses many bins pays more for the later ones. Fees go to the
liquidity providers' fee accounts, not into the bins.
"""

from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import lru_cache

from routing.amm import ceil_div
from routing.errors import InsufficientLiquidity
from routing.swap import BinFill, SwapResult, impact_bps

SCALE_OFFSET = 64
ONE = 1 << SCALE_OFFSET
BASIS_POINT_MAX = 10_000
FEE_PRECISION = 1_000_000_000
MAX_FEE_RATE = 100_000_000  # 10 %


@lru_cache(maxsize=8192)
def bin_price_q64(bin_id: int, bin_step: int) -> int:
    """(1 + bin_step / 10_000) ** bin_id in Q64.64, rounded down."""
    with localcontext() as ctx:
        ctx.prec = 60
        price = (Decimal(1) + Decimal(bin_step) / BASIS_POINT_MAX) ** bin_id
        return int(price * ONE)


def bin_id_for_price(price: Fraction | Decimal | float, bin_step: int) -> int:
    """The bin whose price is nearest to `price` (base units of Y per base unit of X)."""
    with localcontext() as ctx:
        ctx.prec = 60
        ratio = (
            Decimal(price.numerator) / Decimal(price.denominator)
            if isinstance(price, Fraction)
            else Decimal(price)
        )
        step = Decimal(1) + Decimal(bin_step) / BASIS_POINT_MAX
        return int((ratio.ln() / step.ln()).to_integral_value())


@dataclass(frozen=True)
class FeeParameters:
    base_factor: int
    variable_fee_control: int
    filter_period: int = 30  # seconds
    decay_period: int = 600  # seconds
    reduction_factor: int = 5_000  # of 10_000
    max_volatility_accumulator: int = 350_000


@dataclass
class DlmmPool:
    bin_step: int  # bps
    active_id: int
    bins: dict[int, list[int]]  # bin id -> [reserve_x, reserve_y]
    fees: FeeParameters
    volatility_accumulator: int = 0
    volatility_reference: int = 0
    index_reference: int = 0
    last_update_timestamp: int = 0
    total_x: int = field(default=-1)
    total_y: int = field(default=-1)
    _edges: dict | None = field(default=None, init=False, repr=False, compare=False)
    # bin id -> that bin as JSON text, in bin id order (`bins_json`).
    _bin_texts: dict | None = field(default=None, init=False, repr=False, compare=False)

    kind = "dlmm"

    def __post_init__(self):
        if self.total_x < 0 or self.total_y < 0:
            self.total_x = sum(x for x, _ in self.bins.values())
            self.total_y = sum(y for _, y in self.bins.values())

    # --- fees ---------------------------------------------------------------

    def base_fee_rate(self) -> int:
        return self.fees.base_factor * self.bin_step * 10

    def variable_fee_rate(self, volatility_accumulator: int) -> int:
        square = (volatility_accumulator * self.bin_step) ** 2
        return ceil_div(self.fees.variable_fee_control * square, 100_000_000_000)

    def total_fee_rate(self, volatility_accumulator: int) -> int:
        return min(self.base_fee_rate() + self.variable_fee_rate(volatility_accumulator), MAX_FEE_RATE)

    def fee_rate_bps(self, now: int | None = None) -> Fraction:
        """The fee a swap starting in the active bin at `now` would pay, in bps."""
        volatility_accumulator = self.volatility_accumulator
        if now is not None:
            index_reference, volatility_reference = self._references_at(now)
            volatility_accumulator = min(
                volatility_reference + abs(index_reference - self.active_id) * BASIS_POINT_MAX,
                self.fees.max_volatility_accumulator,
            )
        return Fraction(self.total_fee_rate(volatility_accumulator) * BASIS_POINT_MAX, FEE_PRECISION)

    def _references_at(self, now: int) -> tuple[int, int]:
        """(index_reference, volatility_reference) for a swap starting at `now`."""
        elapsed = now - self.last_update_timestamp
        if elapsed < self.fees.filter_period:
            return self.index_reference, self.volatility_reference
        if elapsed < self.fees.decay_period:
            return self.active_id, self.volatility_accumulator * self.fees.reduction_factor // BASIS_POINT_MAX
        return self.active_id, 0

    # --- prices -------------------------------------------------------------

    def price_q64(self, bin_id: int | None = None) -> int:
        return bin_price_q64(self.active_id if bin_id is None else bin_id, self.bin_step)

    def spot_price(self) -> Fraction:
        """Base units of Y per base unit of X in the active bin."""
        return self.bin_price(self.active_id, self.bin_step)

    @staticmethod
    def bin_price(bin_id: int, bin_step: int) -> Fraction:
        """Base units of Y per base unit of X in a bin."""
        return Fraction(bin_price_q64(bin_id, bin_step), ONE)

    def depth(self) -> tuple[int, int]:
        return self.total_x, self.total_y

    # --- swapping -----------------------------------------------------------

    def quote_swap(self, *, a_to_b: bool, amount_in: int, now: int) -> SwapResult:
        """Swap `amount_in` of X for Y (`a_to_b`) or of Y for X, without changing the pool."""
        if amount_in <= 0:
            raise ValueError("amount_in must be positive")
        index_reference, volatility_reference = self._references_at(now)
        # Bins left to try in the direction of travel; past them there is no liquidity.
        limit, step = self._last_bin_with_liquidity(a_to_b), (-1 if a_to_b else 1)
        if limit is None:
            raise InsufficientLiquidity("no liquidity on that side of the pool")

        active_id = self.active_id
        amount_left, amount_out, total_fee = amount_in, 0, 0
        volatility_accumulator = self.volatility_accumulator
        fills: list[BinFill] = []
        while True:
            volatility_accumulator = min(
                volatility_reference + abs(index_reference - active_id) * BASIS_POINT_MAX,
                self.fees.max_volatility_accumulator,
            )
            reserve_x, reserve_y = self.bins.get(active_id, (0, 0))
            available = reserve_y if a_to_b else reserve_x
            if available > 0:
                fill = self._fill_bin(
                    active_id,
                    reserve_x,
                    reserve_y,
                    a_to_b,
                    amount_left,
                    self.total_fee_rate(volatility_accumulator),
                )
                fills.append(fill)
                amount_left -= fill.amount_in
                amount_out += fill.amount_out
                total_fee += fill.fee
            if amount_left == 0:
                break
            if active_id == limit:
                raise InsufficientLiquidity(
                    f"the pool ran out of liquidity with {amount_left} base units left to swap"
                )
            active_id += step

        first_price = self.price_q64(fills[0].bin_id)
        in_after_fee = amount_in - total_fee
        ideal_out = (
            in_after_fee * first_price >> SCALE_OFFSET
            if a_to_b
            else (in_after_fee << SCALE_OFFSET) // first_price
        )
        return SwapResult(
            a_to_b=a_to_b,
            amount_in=amount_in,
            amount_out=amount_out,
            fee=total_fee,
            price_impact_bps=impact_bps(ideal_out=ideal_out, amount_out=amount_out),
            fills=tuple(fills),
            active_id=active_id,
            volatility_accumulator=volatility_accumulator,
            volatility_reference=volatility_reference,
            index_reference=index_reference,
            timestamp=now,
        )

    def _fill_bin(
        self, bin_id: int, reserve_x: int, reserve_y: int, a_to_b: bool, amount_left: int, fee_rate: int
    ) -> BinFill:
        price = self.price_q64(bin_id)
        # The input that takes everything the bin holds, and the fee on top of it.
        if a_to_b:
            max_in = ceil_div(reserve_y << SCALE_OFFSET, price)
        else:
            max_in = ceil_div(reserve_x * price, ONE)
        max_fee = ceil_div(max_in * fee_rate, FEE_PRECISION - fee_rate)
        if amount_left >= max_in + max_fee:
            amount_in, fee, into_bin = max_in + max_fee, max_fee, max_in
            amount_out = reserve_y if a_to_b else reserve_x
        else:
            amount_in = amount_left
            fee = ceil_div(amount_left * fee_rate, FEE_PRECISION)
            into_bin = amount_left - fee
            if a_to_b:
                amount_out = min(into_bin * price >> SCALE_OFFSET, reserve_y)
            else:
                amount_out = min((into_bin << SCALE_OFFSET) // price, reserve_x)
        if a_to_b:
            reserve_x, reserve_y = reserve_x + into_bin, reserve_y - amount_out
        else:
            reserve_x, reserve_y = reserve_x - amount_out, reserve_y + into_bin
        return BinFill(bin_id, amount_in, amount_out, fee, reserve_x, reserve_y)

    def _last_bin_with_liquidity(self, a_to_b: bool) -> int | None:
        """The farthest bin a swap in this direction could reach, or None.
        Remembered, and kept across an `apply` that leaves it standing: the
        router asks it for every chunk of a split and every order of a round,
        and scanning a thousand bins each time was most of a quote."""
        if self._edges is None:
            self._edges = {}
        if a_to_b not in self._edges:
            if a_to_b:
                ids = [i for i, (_, y) in self.bins.items() if y > 0 and i <= self.active_id]
                self._edges[a_to_b] = min(ids) if ids else None
            else:
                ids = [i for i, (x, _) in self.bins.items() if x > 0 and i >= self.active_id]
                self._edges[a_to_b] = max(ids) if ids else None
        return self._edges[a_to_b]

    def bins_json(self) -> str:
        """The bins as a pool row stores them: `{"<bin id>": [x, y], ...}`
        in bin id order, as json.dumps writes it. Each bin's text is kept
        and only the bins a swap changed are written again: a swap moves a
        few bins of up to a thousand, and encoding them all was a sixth of
        a worker's time at 150 orders/s."""
        if self._bin_texts is None:
            self._bin_texts = {i: _bin_json(i, amounts) for i, amounts in sorted(self.bins.items())}
        return "{" + ", ".join(self._bin_texts.values()) + "}"

    def apply(self, result: SwapResult) -> None:
        edges, self._edges = self._edges, None
        for fill in result.fills:
            old_x, old_y = self.bins.get(fill.bin_id, (0, 0))
            self.total_x += fill.reserve_x - old_x
            self.total_y += fill.reserve_y - old_y
            self.bins[fill.bin_id] = amounts = [fill.reserve_x, fill.reserve_y]
            if self._bin_texts is not None:
                if fill.bin_id in self._bin_texts:
                    self._bin_texts[fill.bin_id] = _bin_json(fill.bin_id, amounts)
                else:
                    self._bin_texts = None  # a new bin: written again, in order
        self.active_id = result.active_id
        self.volatility_accumulator = result.volatility_accumulator
        self.volatility_reference = result.volatility_reference
        self.index_reference = result.index_reference
        self.last_update_timestamp = result.timestamp
        if edges:
            self._edges = self._edges_after(edges, result.fills)

    def _edges_after(self, edges: dict, fills) -> dict:
        """The edges that still stand after a swap. Only the bins it filled
        changed, and every bin short of an edge held nothing on that side: so
        an edge whose bin still qualifies moves only to a filled bin beyond
        it. One that no longer qualifies is looked for again when asked."""
        kept = {}
        for a_to_b, edge in edges.items():
            side = 1 if a_to_b else 0

            def qualifies(bin_id: int, a_to_b=a_to_b, side=side) -> bool:
                within = bin_id <= self.active_id if a_to_b else bin_id >= self.active_id
                return within and self.bins.get(bin_id, (0, 0))[side] > 0

            if edge is None or not qualifies(edge):
                continue
            beyond = [fill.bin_id for fill in fills if qualifies(fill.bin_id)]
            kept[a_to_b] = min([edge, *beyond]) if a_to_b else max([edge, *beyond])
        return kept

    def swap(self, *, a_to_b: bool, amount_in: int, now: int) -> SwapResult:
        result = self.quote_swap(a_to_b=a_to_b, amount_in=amount_in, now=now)
        self.apply(result)
        return result

    def copy(self) -> "DlmmPool":
        twin = replace(self, bins={i: list(amounts) for i, amounts in self.bins.items()})
        twin._edges = twin._bin_texts = None
        return twin


def _bin_json(bin_id: int, amounts: list[int]) -> str:
    return f'"{bin_id}": [{amounts[0]}, {amounts[1]}]'
