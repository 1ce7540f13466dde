"""A consumer's own channel lives in its process (config/channel_layer.py):
Redis is subscribed to groups, not to each socket's channel. Real Redis."""

import asyncio
import time

import redis
from channels.layers import channel_layers
from django.conf import settings


def subscribed_in_redis(name: str) -> bool:
    return name.encode() in redis.Redis.from_url(settings.REDIS_URL).pubsub_channels(name)


async def group_message(layer, group: str, channel: str, timeout: float = 5) -> dict:
    """Send to the group until the channel gets it: Redis takes a SUBSCRIBE
    asynchronously, so a message sent at once can reach no one."""
    deadline = time.monotonic() + timeout
    while True:
        await layer.group_send(group, {"type": "order.events", "events": ["one"]})
        try:
            return await asyncio.wait_for(layer.receive(channel), 0.2)
        except TimeoutError:
            assert time.monotonic() < deadline, "the group's message never came"


def test_a_consumer_channel_gets_its_groups_messages_without_a_redis_subscription():
    layer = channel_layers.make_backend("default")

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("layer-test", channel)
        message = await group_message(layer, "layer-test", channel)
        # The stock layer sends the channel's SUBSCRIBE before the group's on
        # one connection: with the group's message in, it would be there.
        channel_subscribed = subscribed_in_redis(channel)
        await layer.group_discard("layer-test", channel)
        listening = await layer.new_channel(prefix="listening.")
        deadline = time.monotonic() + 5
        while not subscribed_in_redis(listening) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        listening_subscribed = subscribed_in_redis(listening)
        await layer.flush()
        return message, channel_subscribed, listening_subscribed

    message, channel_subscribed, listening_subscribed = asyncio.run(scenario())

    assert message == {"type": "order.events", "events": ["one"]}
    assert not channel_subscribed
    # Another prefix is subscribed as the stock layer does it.
    assert listening_subscribed
