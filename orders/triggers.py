"""Waking limit and sniper orders when the market reaches them.

Nothing polls waiting orders. When a pool changes (a swap, the drift, a
launch), routing sends `pools_changed`; if any order waits on that pair, the
pair is checked at once, by a few queries compiled once: the pair's pools
give the new best price each way; the trigger-price index gives the pair's
snipers and its lowest trigger price each way. Only when the price has
crossed that does a range scan on the same index find the limit orders it
could satisfy. Each is checked exactly against the executable price for its
whole amount, and the ones that pass are marked triggered. Sniper orders on a
pair trigger when it first has a pool. Admission then takes triggered orders,
in the order they arrived, like new market orders.
"""

import logging
from decimal import ROUND_CEILING, Context, localcontext

from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone
from rq.timeouts import BaseTimeoutException

from config.compiled import CompiledQuery
from orders.models import WAITING_CONSTANT, Order, OrderStatus, OrderType
from orders.serializers import decimal_str
from routing.errors import RoutingError
from routing.market import best_spot_prices
from routing.router import simulate_route
from routing.signals import pools_changed
from routing.tokens import resolve_token

log = logging.getLogger(__name__)


def _waiting_on(token_a: str, token_b: str):
    return Order.objects.filter(
        WAITING_CONSTANT, token_in__in=(token_a, token_b), token_out__in=(token_a, token_b)
    )


# Asked after every write that moves a pool: each admission round's.
someone_waits_on = CompiledQuery(Order, _waiting_on)


@receiver(pools_changed)
def pools_moved(sender, pairs, **kwargs) -> None:
    check_pairs(pairs)


def check_pairs(pairs) -> int:
    """Check, right here, the orders waiting on these pairs. It runs in the
    process whose write moved the pools (a worker, the clock, the admin),
    after the commit: one indexed query when no order waits on the pair, a
    few more when some do (the module's docstring). Never raises: a failed
    check is redone by the clock's periodic pass."""
    fired = 0
    for token_a, token_b in pairs:
        try:
            if someone_waits_on.exists(token_a, token_b):
                fired += orders_trigger(token_a=token_a, token_b=token_b)
        except BaseTimeoutException:
            raise  # rq's job timeout, raised once: swallowed, the job ran on with none
        except Exception:
            log.exception("trigger check for %s/%s failed; the clock will retry it", token_a, token_b)
    return fired


def waiting_pairs() -> set[tuple[str, str]]:
    """The pairs some order waits on."""
    # Without the model's ordering, which would make each waiting order a row.
    pairs = Order.objects.filter(WAITING_CONSTANT).order_by().values_list("token_in", "token_out")
    return set(pairs.distinct())


def orders_trigger(*, token_a: str, token_b: str) -> int:
    """Mark the orders waiting on this pair whose trigger has fired, and ask
    for their admission; returns how many fired."""
    first, second = resolve_token(token_a), resolve_token(token_b)
    prices = best_spot_prices(first, second)
    if prices is None:
        return 0  # not trading yet: snipers keep waiting
    fired = _trigger_direction(first, second, prices[0]) + _trigger_direction(second, first, prices[1])
    if fired:
        from orders.services import request_admission

        request_admission()
    return fired


def untriggered(token_in: str, token_out: str):
    """The waiting orders selling `token_in` for `token_out` whose trigger
    has not fired, by the `order_limit_trigger` index."""
    return Order.objects.filter(
        WAITING_CONSTANT, triggered_at__isnull=True, token_in=token_in, token_out=token_out
    )


# Asked after every pool update, both ways, so compiled once (config.compiled):
# built by the ORM, each of these cost more than the rest of the check.
# Snipers carry no trigger price: the index's NULL end finds them, in no
# order (admission takes them by created_at). Asked to sort them by
# created_at, SQLite read every waiting order by `order_status_created`
# instead (10,000 of them, 4 ms).
snipers_untriggered = CompiledQuery(
    Order,
    lambda token_in, token_out: (
        untriggered(token_in, token_out)
        .filter(trigger_price__isnull=True, type=OrderType.SNIPER)
        .order_by()
        .only("id")
    ),
)
lowest_trigger = CompiledQuery(
    Order,
    lambda token_in, token_out: (
        untriggered(token_in, token_out)
        .filter(trigger_price__isnull=False)
        .order_by("trigger_price")
        .only("id", "trigger_price")[:1]
    ),
)


def _trigger_direction(token_in, token_out, spot) -> int:
    pair = (token_in.symbol, token_out.symbol)
    fired = 0
    for order in snipers_untriggered.rows(*pair):
        fired += _mark_triggered(order)
    # Most limit orders wait far from the price: look for the crossed ones
    # (a query with the price in it, which cannot be compiled once) only
    # when the lowest trigger price is crossed.
    lowest = lowest_trigger.rows(*pair)
    if not lowest or lowest[0].trigger_price > float(spot):
        return fired
    candidates = untriggered(*pair).filter(trigger_price__lte=float(spot)).order_by("created_at")
    for order in candidates:
        if order.type == OrderType.LIMIT and limit_reached(order):
            fired += _mark_triggered(order)
    return fired


def _mark_triggered(order: Order) -> int:
    now = timezone.now()
    # Not once its time is up: the clock's next pass fails it as expired.
    in_time = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    return Order.objects.filter(
        in_time, pk=order.pk, status=OrderStatus.WAITING, triggered_at__isnull=True
    ).update(triggered_at=now)


def limit_reached(order: Order) -> bool:
    """Whether the best executable price for the order's whole amount is at
    or above its limit now."""
    token_in, token_out = resolve_token(order.token_in), resolve_token(order.token_out)
    try:
        route = simulate_route(
            token_in=token_in, token_out=token_out, amount_in=token_in.to_base_units(order.amount)
        )
    except RoutingError:
        return False
    return route.expected_amount_out >= limit_floor(order)


ROUNDED_UP = Context(prec=80, rounding=ROUND_CEILING)


def limit_floor(order: Order) -> int:
    """The fewest base units of tokenOut the order accepts, by its trigger
    price: a limit order never fills below its limit, a sniper never pays
    more than its maximum price."""
    if order.type not in (OrderType.LIMIT, OrderType.SNIPER):
        return 0
    token_out = resolve_token(order.token_out)
    # Rounded up, every step: a product or quotient rounded down to the
    # context's digits, or a sniper's floor rounded down, would let a fill
    # one base unit short through (a sniper pays amount / out).
    with localcontext(ROUNDED_UP):
        if order.type == OrderType.LIMIT:
            least = (order.amount * order.limit_price).scaleb(token_out.decimals)
        else:
            least = (order.amount / order.max_price).scaleb(token_out.decimals)
        return int(least.to_integral_value())


def expired_by(moment):
    """The waiting orders whose time was up at `moment`, by the `order_expiry` index."""
    return Order.objects.filter(WAITING_CONSTANT, expires_at__lte=moment)


def orders_expire() -> int:
    """Fail every waiting order whose time is up; returns how many."""
    from orders.services import order_expire

    return sum(order_expire(order) for order in expired_by(timezone.now()))


def expired(order: Order, now) -> bool:
    return order.expires_at is not None and order.expires_at <= now


def expiry_message(order: Order) -> str:
    when = order.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if order.triggered_at is not None:
        fired = order.triggered_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        trigger = f"its trigger fired at {fired}, but no execution slot came free before then"
    elif order.type == OrderType.LIMIT:
        trigger = f"the price never reached {decimal_str(order.limit_price)}"
    else:
        trigger = f"{order.token_out} did not launch"
    return f"The order expired at {when}: {trigger}."
