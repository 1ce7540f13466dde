"""Two costs inside a round, in one process: `python -m bench.micro`.

- a quote and its swap on the seeded SOL/USDC Meteora pool (1,201 bins), as
  a worker's admission round does them for each order, alternating sides;
- a web process's share of one order's statuses on the channel layer: the
  PUBLISH as a worker sends it, delivered to a process that has a member of
  the order's group (decoded) and to one that has none (passed over).

Prints microseconds for each as a table and JSON. Needs no database or Redis.
"""

import asyncio
import sys
import timeit
import uuid

from bench.inprocess import report, start


def swap_us(*, number: int, repeat: int) -> float:
    from routing.models import Pool
    from routing.seed import SEEDS, MeteoraSeed, seed_key, seeded_fields

    seed = next(s for s in SEEDS if isinstance(s, MeteoraSeed) and (s.token_a, s.token_b) == ("SOL", "USDC"))
    pool = Pool(
        dex=seed_key(seed)[0], token_a=seed.token_a, token_b=seed.token_b, **seeded_fields(seed)
    ).state()
    swaps = iter(range(10**9))

    def quote_and_swap():
        k = next(swaps)
        a_to_b = k % 2 == 0
        amount_in = 10**7 * (1 + k % 10) if a_to_b else 10**6 * (1 + k % 10)  # 0.01-0.1 SOL, 1-10 USDC
        pool.apply(pool.quote_swap(a_to_b=a_to_b, amount_in=amount_in, now=1_000 + k))

    return min(timeit.repeat(quote_and_swap, number=number, repeat=repeat)) / number * 1e6


def delivery_us(*, number: int, repeat: int) -> tuple[float, float]:
    from channels.layers import channel_layers

    from orders.broadcast import events_message, order_group

    order_id = uuid.uuid4()
    statuses = [
        {
            "type": "status",
            "orderId": str(order_id),
            "status": status,
            "at": "2026-12-06T05:00:00.123Z",
            "attempt": 1,
            "dex": "meteora",
            "amountOut": "7.523029",
            "txHash": "5" * 88,
        }
        for status in ("routing", "building", "submitted", "confirmed")
    ]
    layer = channel_layers.make_backend("default")
    [(channel, data)] = layer.group_publishes([(order_group(order_id), events_message(statuses))])

    async def timed() -> tuple[float, float]:
        loop_layer = layer._get_layer()
        channel_bytes = channel.encode()
        passed_over = min(
            timeit.repeat(lambda: loop_layer.deliver(channel_bytes, data), number=number, repeat=repeat)
        )
        # A member's queue, emptied as it goes, as its consumer would.
        member = await loop_layer.new_channel()
        loop_layer.groups[order_group(order_id)] = {member}
        queue = loop_layer.channels[member]

        def decoded():
            loop_layer.deliver(channel_bytes, data)
            queue.get_nowait()

        return passed_over, min(timeit.repeat(decoded, number=number, repeat=repeat))

    passed_over, decoded = asyncio.run(timed())
    return passed_over / number * 1e6, decoded / number * 1e6


def main(argv=None) -> int:
    args = start("python -m bench.micro", __doc__, argv, timed="calls")
    passed_over, decoded = delivery_us(number=args.number, repeat=args.repeat)
    figures = {
        "dlmm_quote_and_swap_us": round(swap_us(number=args.number, repeat=args.repeat), 1),
        "status_message_passed_over_us": round(passed_over, 1),
        "status_message_decoded_us": round(decoded, 1),
    }
    labels = {
        "dlmm_quote_and_swap_us": "SOL/USDC DLMM quote and swap",
        "status_message_passed_over_us": "order statuses, process with no member",
        "status_message_decoded_us": "order statuses, process with a member",
    }
    report("us", figures, labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
