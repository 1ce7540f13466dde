"""The channel layer (config/channel_layer.py): every group on one Redis
channel, each group's members in their own process. Real Redis; each layer
made here stands for a process of its own."""

import asyncio
import logging
import time

import pytest
import redis
from channels.layers import channel_layers
from django.conf import settings
from redis.connection import parse_url

from config.channel_layer import published_at

# One per Redis database: the tests' is 15 unless TEST_REDIS_URL says otherwise.
GROUP_CHANNEL = f"asgi__groups__.db{parse_url(settings.REDIS_URL).get('db', 0)}"


def redis_channels() -> set[bytes]:
    return set(redis.Redis.from_url(settings.REDIS_URL).pubsub_channels())


def message(text: str) -> dict:
    return {"type": "order.events", "events": [text]}


async def nothing_for(layer, channel: str, seconds: float = 0.3) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), seconds)
    except TimeoutError:
        return True
    return False


def test_a_message_sent_right_after_group_add_reaches_the_member_in_another_process():
    sender, listener = channel_layers.make_backend("default"), channel_layers.make_backend("default")

    async def scenario():
        channel = await listener.new_channel()
        await listener.group_add("layer-test", channel)
        # No retry: group_add() returned, so the group's messages reach the channel.
        await sender.group_send("layer-test", message("one"))
        received = await asyncio.wait_for(listener.receive(channel), 5)
        subscribed = redis_channels()
        await sender.flush()
        await listener.flush()
        return received, channel, subscribed

    received, channel, subscribed = asyncio.run(scenario())

    assert received == message("one")
    # Neither the consumer's channel nor the group has a Redis channel of its own.
    assert channel.encode() not in subscribed
    assert not any(b"layer-test" in name for name in subscribed)
    assert GROUP_CHANNEL.encode() in subscribed


def test_a_channel_that_left_its_group_gets_nothing_and_the_others_still_do():
    layer = channel_layers.make_backend("default")

    async def scenario():
        leaving, staying = await layer.new_channel(), await layer.new_channel()
        for channel in (leaving, staying):
            await layer.group_add("layer-test", channel)
        await layer.group_discard("layer-test", leaving)
        await layer.group_send("layer-test", message("after"))
        got = await asyncio.wait_for(layer.receive(staying), 5)
        left_empty = await nothing_for(layer, leaving)
        await layer.flush()
        return got, left_empty

    got, left_empty = asyncio.run(scenario())

    assert got == message("after")
    assert left_empty


def test_one_publish_carries_several_groups_messages_in_order():
    layer = channel_layers.make_backend("default")
    watcher = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    watcher.subscribe(GROUP_CHANNEL)
    watcher.get_message(timeout=5)  # the subscription's confirmation

    async def scenario():
        first, second = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("layer-test-a", first)
        await layer.group_add("layer-test-b", second)
        await layer.group_add("layer-test-b", first)
        await layer.group_send_many([(f"layer-test-{x}", message(x)) for x in "abc"])
        got_first = [await asyncio.wait_for(layer.receive(first), 5) for _ in range(2)]
        got_second = await asyncio.wait_for(layer.receive(second), 5)
        await layer.flush()
        return got_first, got_second

    before = time.time()
    got_first, got_second = asyncio.run(scenario())
    published, stamps = [], []
    while (sent := watcher.get_message(timeout=0.5)) is not None:
        published.append(layer.published(sent["data"]))
        stamps.append(published_at(sent["data"]))
    watcher.close()

    # Each PUBLISH says when it was sent.
    assert stamps and all(before <= stamp <= time.time() for stamp in stamps)
    assert got_first == [message("a"), message("b")]
    assert got_second == message("b")
    sends = [(groups, entry["sends"]) for groups, entry in published if "sends" in entry]
    assert sends == [
        (["layer-test-a", "layer-test-b", "layer-test-c"], [[f"layer-test-{x}", message(x)] for x in "abc"])
    ]


def test_a_channel_with_another_prefix_is_subscribed_in_redis_and_gets_sends_by_name():
    layer = channel_layers.make_backend("default")

    async def scenario():
        named = await layer.new_channel(prefix="named.")
        receiving = asyncio.ensure_future(layer.receive(named))
        # Redis takes a SUBSCRIBE asynchronously: send until it arrives.
        for _ in range(50):
            await layer.send(named, message("direct"))
            done, _ = await asyncio.wait([receiving], timeout=0.1)
            if done:
                break
        got = receiving.result()
        subscribed = named.encode() in redis_channels()
        await layer.flush()
        return got, subscribed

    got, subscribed = asyncio.run(scenario())

    assert got == message("direct")
    assert subscribed


WIDE_GROUP = "orders.all"  # settings.CHANNEL_LAYERS' wide_groups


def test_a_wide_group_has_its_own_redis_channel_only_while_this_process_has_a_member():
    layer = channel_layers.make_backend("default")
    wide_channel = f"{GROUP_CHANNEL}.{WIDE_GROUP}".encode()

    async def scenario():
        watcher, feed = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("layer-test", watcher)
        before = redis_channels()
        await layer.group_add(WIDE_GROUP, feed)
        # No retry: group_add() returned, so the feed's messages reach it.
        await layer.group_send(WIDE_GROUP, message("feed"))
        got = await asyncio.wait_for(layer.receive(feed), 5)
        during = redis_channels()
        await layer.group_discard(WIDE_GROUP, feed)
        after = redis_channels()
        # Back again: subscribed and probed anew.
        await layer.group_add(WIDE_GROUP, feed)
        await layer.group_send(WIDE_GROUP, message("again"))
        got_again = await asyncio.wait_for(layer.receive(feed), 5)
        await layer.flush()
        return before, got, during, after, got_again

    before, got, during, after, got_again = asyncio.run(scenario())

    assert wide_channel not in before and GROUP_CHANNEL.encode() in before
    assert got == message("feed") and wide_channel in during
    assert wide_channel not in after and GROUP_CHANNEL.encode() in after
    assert got_again == message("again")


def test_a_write_to_an_order_and_the_feed_reaches_each_through_its_own_channel():
    sender, listener = channel_layers.make_backend("default"), channel_layers.make_backend("default")
    watcher = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    watcher.subscribe(GROUP_CHANNEL)
    watcher.get_message(timeout=5)

    async def scenario():
        follower, feed = await listener.new_channel(), await listener.new_channel()
        await listener.group_add("layer-test", follower)
        await listener.group_add(WIDE_GROUP, feed)
        await sender.group_send_many([("layer-test", message("order")), (WIDE_GROUP, message("feed"))])
        got = [await asyncio.wait_for(listener.receive(channel), 5) for channel in (follower, feed)]
        await sender.flush()
        await listener.flush()
        return got

    got = asyncio.run(scenario())
    published = []
    while (sent := watcher.get_message(timeout=0.5)) is not None:
        published.append(sender.published(sent["data"]))
    watcher.close()

    assert got == [message("order"), message("feed")]
    # A process with no dashboard open, reading only the shared channel,
    # never sees the feed's copy.
    assert [entry["sends"] for _, entry in published if "sends" in entry] == [
        [["layer-test", message("order")]]
    ]


def test_a_process_decodes_only_the_publishes_that_name_a_group_it_has_a_member_of(caplog):
    layer = channel_layers.make_backend("default")
    undecodable = b"\xc1"  # a byte msgpack never writes

    async def scenario():
        member = await layer.new_channel()
        await layer.group_add("layer-test", member)
        loop_layer = layer._get_layer()
        with caplog.at_level(logging.WARNING, logger="config.channel_layer"):
            # Named for groups with no member here: passed over, never decoded.
            loop_layer.deliver(GROUP_CHANNEL.encode(), b"layer-test-elsewhere order.x\n" + undecodable)
            passed_over = not caplog.records
            # Named for this process's member: decoded, found unreadable, dropped.
            loop_layer.deliver(GROUP_CHANNEL.encode(), b"layer-test-elsewhere layer-test\n" + undecodable)
            dropped = [record.getMessage() for record in caplog.records]
        # The reader goes on: the next message reaches the member.
        await layer.group_send("layer-test", message("next"))
        got = await asyncio.wait_for(layer.receive(member), 5)
        await layer.flush()
        return passed_over, dropped, got

    passed_over, dropped, got = asyncio.run(scenario())

    assert passed_over
    assert dropped == [f"channel layer: dropped an unreadable message on {GROUP_CHANNEL}"]
    assert got == message("next")


def test_a_publish_without_the_line_of_group_names_from_the_version_before_is_read_whole():
    layer = channel_layers.make_backend("default")

    async def scenario():
        member = await layer.new_channel()
        await layer.group_add("layer-test", member)
        earlier = layer.serialize({"sends": [["layer-test", message("earlier")]]})
        layer._get_layer().deliver(GROUP_CHANNEL.encode(), earlier)
        got = await asyncio.wait_for(layer.receive(member), 5)
        await layer.flush()
        return got

    assert asyncio.run(scenario()) == message("earlier")


def test_a_group_name_outside_channels_ascii_rule_is_refused_before_anything_is_sent():
    layer = channel_layers.make_backend("default")
    # A space or newline would break the PUBLISH's line of names; a non-ASCII
    # digit would make its first byte look like a message of the version before.
    for name in ("layer test", "layer-test\n", "\u0663x", "x" * 100):
        with pytest.raises(TypeError):
            layer.group_publishes([(name, message("never"))])
