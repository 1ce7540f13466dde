"""What reading one group message costs a web process: `python -m bench.subscriber`.

Every web process reads every order's broadcast on the channel layer's group
channel. Two readers, each in a process of its own on uvloop (as daphne runs),
subscribe to one channel and read the same messages, published one at a time
at a steady rate, as a worker's admission rounds send them:

- `layer`: config.group_subscriber.GroupSubscriber, which the engine uses;
- `stock`: channels-redis's own reader (redis-py's asyncio PubSub), which
  it used before.

Prints each reader's CPU per message (user and system, from its first
message to its last) as a table and JSON. Needs Redis (--redis-url).
"""

import argparse
import json
import subprocess
import sys
import time
import uuid

import redis

from bench.inprocess import report

READERS = ("layer", "stock")
# A worker's PUBLISH of one order's four statuses is about 1.1 KB.
MESSAGE = b"orders.00000000-0000-0000-0000-000000000000\n" + b"\x81" + b"x" * 1050


def read(reader: str, address: str, channel: str, count: int) -> None:
    """In a child: subscribe, say so on stdout, read `count` messages, print
    the CPU seconds they took as JSON."""
    import asyncio

    import uvloop

    async def main():
        loop = asyncio.get_running_loop()
        seen, done, started = 0, loop.create_future(), []

        def on_message(*_):
            nonlocal seen
            seen += 1
            if seen == 1:
                started.append(time.process_time())
            if seen == count and not done.done():
                done.set_result(time.process_time())

        if reader == "layer":
            from config.group_subscriber import GroupSubscriber

            subscriber = GroupSubscriber({"address": address}, on_message)
            await subscriber.subscribe(channel, timeout=10)
        else:
            from channels_redis.pubsub import RedisSingleShardConnection

            class Shard(RedisSingleShardConnection):
                def _receive_message(self, message):
                    if message is not None:
                        on_message()

            subscriber = Shard({"address": address, "socket_timeout": None}, None)
            await subscriber.subscribe(channel)
        print("subscribed", flush=True)
        ended = await done
        print(json.dumps({"reader": reader, "messages": count - 1, "cpu_s": ended - started[0]}))

    uvloop.run(main())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.subscriber", description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--messages", type=int, default=3000, help="published (default 3000)")
    parser.add_argument("--rate", type=float, default=300, help="messages a second (default 300)")
    parser.add_argument("--child", nargs=3, metavar=("READER", "CHANNEL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        read(args.child[0], args.redis_url, args.child[1], int(args.child[2]))
        return 0

    channel = f"bench.subscriber.{uuid.uuid4().hex}"
    children = {
        reader: subprocess.Popen(
            [sys.executable, "-m", "bench.subscriber", "--redis-url", args.redis_url]
            + ["--child", reader, channel, str(args.messages)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for reader in READERS
    }
    for child in children.values():
        assert child.stdout.readline().strip() == "subscribed", "a reader did not subscribe"
    publisher = redis.Redis.from_url(args.redis_url)
    start = time.monotonic()
    for sent in range(args.messages):
        # Paced, so that each message is a read of its own, as in the engine.
        time.sleep(max(0.0, start + sent / args.rate - time.monotonic()))
        publisher.publish(channel, MESSAGE)
    figures = {"messages": args.messages, "rate": args.rate}
    for reader, child in children.items():
        out, _ = child.communicate(timeout=60)
        result = json.loads(out.strip().splitlines()[-1])
        figures[f"{reader}_us_per_message"] = round(result["cpu_s"] / result["messages"] * 1e6, 1)
    labels = {
        "layer_us_per_message": "config.group_subscriber (the engine)",
        "stock_us_per_message": "channels-redis (redis-py PubSub)",
    }
    report("us per message", figures, labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
