"""The channel layer's subscriber to its group channels
(config/group_subscriber.py): its own RESP2 parser, its reply to SUBSCRIBE,
and a connection made again. Real Redis, but for the parser's test, which
feeds it bytes as a socket might cut them."""

import asyncio
import logging
import ssl
import time

import pytest
import redis
from channels.layers import channel_layers
from django.conf import settings

from config.channel_layer import RESUBSCRIBED, published_at
from config.group_subscriber import GroupSubscriber, RedisReplyError, command

ACL_USER, ACL_PASSWORD = "layer-test-subscriber", "layer-test-secret"
WIDE_GROUP = "orders.all"  # settings.CHANNEL_LAYERS' wide_groups: a channel of its own


def published(channel: bytes, data: bytes) -> bytes:
    return b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in (b"message", channel, data))


# Redis's reply to SUBSCRIBE layer-test.
SUBSCRIBED_REPLY = b"*3\r\n$9\r\nsubscribe\r\n$10\r\nlayer-test\r\n:1\r\n"


def test_messages_cut_anywhere_by_the_socket_come_out_whole_once_and_in_order():
    got = []
    subscriber = GroupSubscriber(
        {"address": settings.REDIS_URL}, lambda channel, data: got.append((channel, data))
    )
    first = published(b"groups", b"orders.1\n\x81\xa1a\x01")
    second = published(b"groups", b"")  # empty data is still a message
    stream = first + command(b"ignored") + second
    for cut in range(1, len(stream)):
        subscriber.data_received(stream[:cut])
        subscriber.data_received(stream[cut:])
    for byte in range(len(stream)):
        subscriber.data_received(stream[byte : byte + 1])

    runs = len(stream)  # len(stream) - 1 cuts, and once a byte at a time
    assert got == [(b"groups", b"orders.1\n\x81\xa1a\x01"), (b"groups", b"")] * runs


def message(text: str) -> dict:
    return {"type": "order.events", "events": [text]}


def test_a_subscription_lost_with_its_connection_is_made_again_before_group_add_returns(caplog):
    layer = channel_layers.make_backend("default")
    watcher = redis.Redis.from_url(settings.REDIS_URL)
    sent_after = read_before = None

    async def received_until(channel, text: str) -> list[dict]:
        got = []
        while message(text) not in got:
            got.append(await asyncio.wait_for(layer.receive(channel), 5))
        return got

    async def scenario():
        earlier, other_group = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("layer-test", earlier)
        nonlocal sent_after, read_before
        sent_after = time.time()
        await layer.group_send("layer-test", message("before"))
        assert await received_until(earlier, "before") == [message("before")]
        read_before = time.time()
        # The connection reads once more, later: Redis's reply to this SUBSCRIBE.
        await layer.group_add(WIDE_GROUP, other_group)
        subscriber = layer._get_layer()._subscriber
        host, port = subscriber._transport.get_extra_info("sockname")[:2]
        with caplog.at_level(logging.WARNING, logger="config.channel_layer"):
            watcher.client_kill(f"{host}:{port}")
            deadline = time.monotonic() + 5
            while not any("lost its Redis subscription" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, "the subscriber never saw its connection go"
                await asyncio.sleep(0.01)
        # The loss is seen: a member that joins now waits for the new subscription.
        later = await layer.new_channel()
        await layer.group_add("layer-test", later)
        await layer.group_send("layer-test", message("after"))
        await layer.group_send(WIDE_GROUP, message("feed"))
        got = [await received_until(channel, "after") for channel in (earlier, later)]
        got.append(await received_until(other_group, "feed"))
        await layer.flush()
        return got

    earlier, later, other_group = asyncio.run(scenario())

    # Members from before the loss are told that messages may have been lost,
    # and since when: the last message read was sent; one that joined while
    # it lasted may be told too (it is harmless).
    told, after = earlier
    assert told["type"] == RESUBSCRIBED and sent_after <= told["since"] <= read_before
    assert after == message("after")
    assert later[-1] == message("after") and all(m["type"] == RESUBSCRIBED for m in later[:-1])
    assert [m["type"] for m in other_group] == [RESUBSCRIBED, "order.events"]
    assert other_group[0]["since"] == told["since"]


def test_a_refused_subscription_fails_at_once_with_redis_reason():
    async def scenario():
        # This Redis has no password: AUTH with one is refused.
        address = settings.REDIS_URL.replace("redis://", "redis://:not-the-password@", 1)
        subscriber = GroupSubscriber({"address": address}, lambda channel, data: None)
        try:
            with pytest.raises(RedisReplyError, match="AUTH"):
                await subscriber.subscribe("layer-test-refused", timeout=30)
        finally:
            subscriber.close()

    asyncio.run(scenario())


class RecordingTransport:
    def __init__(self):
        self.writes = []

    def get_extra_info(self, name):
        return None

    def write(self, data):
        self.writes.append(data)


def test_on_a_new_connection_auth_goes_out_before_any_subscribe():
    async def scenario():
        subscriber = GroupSubscriber({"address": "redis://someone:secret@127.0.0.1:6379/15"}, print)
        # As after a lost connection: a channel to subscribe to again.
        subscriber._subscribed[b"layer-test"] = asyncio.get_running_loop().create_future()
        transport = RecordingTransport()
        subscriber.connection_made(transport)
        return transport.writes

    assert asyncio.run(scenario()) == [
        command(b"AUTH", b"someone", b"secret"),
        command(b"SUBSCRIBE", b"layer-test"),
    ]


def _subscribed_without_a_socket(monkeypatch, heard: dict) -> GroupSubscriber:
    """A subscriber to layer-test whose connections are made by the test,
    which records each channel subscribed again and since when."""
    subscriber = GroupSubscriber(
        {"address": "redis://127.0.0.1:6379/15"},
        lambda channel, data: None,
        lambda channel, since: heard.update({channel: since}),
        published_at,
    )
    monkeypatch.setattr(subscriber, "_connect_soon", lambda: None)
    subscriber._subscribed[b"layer-test"] = asyncio.get_running_loop().create_future()
    subscriber._subscribed[b"layer-test"].set_result(None)
    return subscriber


def test_after_losses_in_a_row_the_members_hear_of_the_first(monkeypatch):
    """A connection lost before its channel was subscribed again leaves the
    first loss's time: what was published since then is what may be gone."""
    heard = {}

    async def scenario():
        subscriber = _subscribed_without_a_socket(monkeypatch, heard)
        for read_at in (100.0, 200.0):
            subscriber.connection_made(RecordingTransport())
            subscriber._heard_at = read_at  # its last read
            subscriber.connection_lost(None)
        subscriber.connection_made(RecordingTransport())
        subscriber.data_received(SUBSCRIBED_REPLY)

    asyncio.run(scenario())

    assert heard == {b"layer-test": 100.0}


def test_after_a_loss_messages_may_be_gone_from_when_the_last_one_read_was_sent(monkeypatch):
    """Redis sends a subscriber its messages in the order they were
    published: one that fell behind, and was dropped, has read everything
    sent before the last message it read, and nothing after."""
    heard = {}

    async def scenario():
        subscriber = _subscribed_without_a_socket(monkeypatch, heard)
        subscriber.connection_made(RecordingTransport())
        for data in (b"@50.0 orders.1\n\x80", b"@60.25 orders.2\n\x80"):
            subscriber.data_received(published(b"layer-test", data))
        subscriber.connection_lost(None)
        subscriber.connection_made(RecordingTransport())
        subscriber.data_received(SUBSCRIBED_REPLY)

    asyncio.run(scenario())

    assert heard == {b"layer-test": 60.25}


@pytest.fixture
def acl_user():
    """A Redis user with a password, for the subscriber to log in as."""
    admin = redis.Redis.from_url(settings.REDIS_URL)
    admin.acl_setuser(
        ACL_USER, enabled=True, passwords=[f"+{ACL_PASSWORD}"], channels=["*"], commands=["+@all"]
    )
    yield
    admin.acl_deluser(ACL_USER)


def test_a_subscriber_with_a_password_logs_in_again_after_its_connection_is_dropped(acl_user, caplog):
    address = settings.REDIS_URL.replace("redis://", f"redis://{ACL_USER}:{ACL_PASSWORD}@", 1)
    publisher = redis.Redis.from_url(settings.REDIS_URL)

    async def scenario():
        got = asyncio.Queue()
        subscriber = GroupSubscriber({"address": address}, lambda channel, data: got.put_nowait(data))
        await subscriber.subscribe("layer-test-auth", timeout=5)
        publisher.publish("layer-test-auth", b"before")
        before = await asyncio.wait_for(got.get(), 5)
        with caplog.at_level(logging.WARNING, logger="config.channel_layer"):
            publisher.client_kill_filter(user=ACL_USER)
            deadline = time.monotonic() + 5
            while not any("lost its Redis subscription" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, "the subscriber never saw its connection go"
                await asyncio.sleep(0.01)
            # A new channel in the same breath as the reconnect: AUTH still first.
            await subscriber.subscribe("layer-test-auth-2", timeout=5)
            await subscriber.subscribe("layer-test-auth", timeout=5)
        publisher.publish("layer-test-auth", b"after")
        publisher.publish("layer-test-auth-2", b"second")
        after = [await asyncio.wait_for(got.get(), 5) for _ in range(2)]
        subscriber.close()
        refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        return before, after, refused

    assert asyncio.run(scenario()) == (b"before", [b"after", b"second"], [])


def test_closing_the_subscriber_fails_a_waiting_subscribe_at_once():
    async def scenario():
        # Nothing listens on port 1: the subscriber keeps trying to connect.
        subscriber = GroupSubscriber({"address": "redis://127.0.0.1:1/0"}, print)
        waiting = asyncio.ensure_future(subscriber.subscribe("layer-test-closed", timeout=30))
        await asyncio.sleep(0.05)
        subscriber.close()
        with pytest.raises(RedisReplyError, match="closed"):
            await waiting
        with pytest.raises(RedisReplyError, match="closed"):
            await subscriber.subscribe("layer-test-closed", timeout=30)

    asyncio.run(scenario())


def test_a_tls_address_gets_the_context_redis_py_would_make():
    from config.group_subscriber import _endpoint

    _, _, verified, _ = _endpoint({"address": "rediss://redis.example:6380/0"})
    _, _, unverified, _ = _endpoint({"address": "rediss://redis.example:6380/0", "ssl_cert_reqs": "none"})
    _, _, plain, _ = _endpoint({"address": "redis://redis.example:6380/0"})

    assert verified["ssl"].verify_mode == ssl.CERT_REQUIRED and verified["ssl"].check_hostname
    assert unverified["ssl"].verify_mode == ssl.CERT_NONE
    assert "ssl" not in plain and plain["port"] == 6380
