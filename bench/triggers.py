"""What waiting orders cost: `python -m bench.triggers [--waiting 10000]`.

Measures, in one process against a fresh SQLite file (or --database-url):
- the CPU time of one pool update (a swap, with the `pools_changed` trigger
  check that follows its commit) with no order waiting, and with N limit
  orders waiting away from the price;
- the delay from the commit of the update that crosses a limit order's
  price to that order's `routing` transition (the trigger check, then
  admission, run here in-process; an engine adds one queue hop to this).
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.triggers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=10_000, help="limit orders waiting (default 10000)")
    parser.add_argument("--updates", type=int, default=200, help="pool updates to time (default 200)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    return parser.parse_args(argv)


def setup(args) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{OUT / f'triggers-{stamp}.sqlite3'}"
    os.environ["REDIS_URL"] = args.redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("reset_market", verbosity=0)


def cpu_per_update(count: int) -> list[float]:
    """CPU seconds of each of `count` small swaps (alternating directions)."""
    from routing.router import execute_route, simulate_route
    from routing.tokens import TOKENS

    sol, usdc = TOKENS["SOL"], TOKENS["USDC"]
    costs = []
    for i in range(count):
        token_in, token_out, amount = (sol, usdc, 10**9) if i % 2 else (usdc, sol, 150 * 10**6)
        started = time.process_time()
        route = simulate_route(token_in=token_in, token_out=token_out, amount_in=amount)
        execute_route(route=route, min_amount_out=0)  # its commit runs the trigger check
        costs.append(time.process_time() - started)
    return costs


def add_waiting_orders(count: int) -> None:
    """Limit orders selling SOL at 2x to 3x the price: far away, as most are."""
    from django.utils import timezone

    from orders.models import Order, OrderStatus, OrderType

    now = timezone.now()
    expiry = now + timezone.timedelta(days=1)
    orders = []
    for i in range(count):
        limit = Decimal(300) + Decimal(i % 1000) / 10
        orders.append(
            Order(
                type=OrderType.LIMIT,
                token_in="SOL",
                token_out="USDC",
                amount=Decimal("1"),
                status=OrderStatus.WAITING,
                limit_price=limit,
                trigger_price=float(limit) * (1 - 1e-9),
                expires_at=expiry,
            )
        )
    Order.objects.bulk_create(orders, batch_size=2000)


def crossing_delay() -> dict:
    """Place a limit order just above the price, cross it, and time the way to routing."""
    from orders import services
    from orders.models import Order, OrderStatus
    from routing.router import execute_route, simulate_route
    from routing.tokens import TOKENS

    sol, usdc = TOKENS["SOL"], TOKENS["USDC"]
    now_price = (
        Decimal(simulate_route(token_in=sol, token_out=usdc, amount_in=10**9).expected_amount_out) / 10**6
    )
    order, _ = services.order_place(
        amount=Decimal(1),
        token_in="SOL",
        token_out="USDC",
        order_type="limit",
        limit_price=now_price * Decimal("1.002"),
    )
    push = simulate_route(token_in=usdc, token_out=sol, amount_in=100_000 * 10**6)
    started = time.perf_counter()
    execute_route(route=push, min_amount_out=0)  # commit -> pools_changed -> trigger check
    triggered = time.perf_counter()
    services.orders_admit(job=True)  # what the admission job does on a worker
    routed = time.perf_counter()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ROUTING, (
        "the crossing did not trigger the order"
    )
    return {
        "update_to_triggered_ms": (triggered - started) * 1000,
        "update_to_routing_ms": (routed - started) * 1000,
    }


def summary(costs: list[float]) -> dict:
    ordered = sorted(costs)
    return {
        "mean_ms": statistics.mean(costs) * 1000,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    setup(args)
    from orders.models import Order

    cpu_per_update(20)  # warm up
    empty = summary(cpu_per_update(args.updates))
    add_waiting_orders(10)
    few = summary(cpu_per_update(args.updates))
    add_waiting_orders(args.waiting - 10)
    loaded = summary(cpu_per_update(args.updates))
    delay = crossing_delay()
    result = {
        "waiting_orders": Order.objects.filter(status="waiting").count(),
        "cpu_per_pool_update_no_waiting": empty,
        "cpu_per_pool_update_10_waiting": few,
        f"cpu_per_pool_update_{args.waiting}_waiting": loaded,
        "crossing": delay,
    }
    rows = [
        ("CPU per pool update, no order waiting", empty),
        ("CPU per pool update, 10 waiting", few),
        (f"CPU per pool update, {args.waiting:,} waiting", loaded),
    ]
    for name, cost in rows:
        print(f"{name:<46} p50 {cost['p50_ms']:.2f} ms  mean {cost['mean_ms']:.2f} ms")
    trig, routed = delay["update_to_triggered_ms"], delay["update_to_routing_ms"]
    print(f"{'crossing update -> triggered / -> routing':<46} {trig:.1f} / {routed:.1f} ms")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
