"""The channel layer: Redis pub/sub, with every group on one Redis channel
and each group's members kept in their own process.

The stock pub/sub layer (channels_redis.pubsub) subscribes Redis to every
group a consumer joins and to the consumer's own channel, and unsubscribes
when it leaves. For a socket that follows one order that is four commands on
the subscriber connection, and four replies for its reader. And its reader
passes over Redis's replies to SUBSCRIBE: a group_add() that returned does not
mean the group's messages reach the channel yet, so a consumer that must miss
nothing (an order's stream) had to send itself a marker through the group and
wait for it.

Here a group send is one PUBLISH on the layer's one group channel,
`<prefix>__groups__.db<N>`, naming the group; a list of sends can go as one
PUBLISH (`group_send_many`, or `group_send_many_sync` from synchronous code,
on the caller's thread with a plain Redis client). Each process's layer
subscribes to that channel when its first consumer joins a group, on a
connection of its own (config/group_subscriber.py), and waits for Redis's
reply, once; from then on it hands every group message to its own members of
that group. So joining and leaving a group cost no Redis command, and a
message sent to a group after group_add() returned reaches the channel (for
as long as the subscriber's connection holds; config/group_subscriber.py
says what happens when it does not). The price is that every web process
reads every group message, also those for groups it has no member of: one
message per order per write (BENCHMARKS.md measures it). So each PUBLISH
starts with a line of the time it was sent (`@<time.time()>`) and the names
of the groups it carries, before the serialized sends, and a process decodes
only those that name a group it has a member of. (The time tells, after a
lost subscription, from when messages may be gone.) Every group is on the
first host of `hosts`.

Groups named in `wide_groups` (the all-orders feed, which hears every
write) each have a channel of their own, `<group channel>.<group>`, which a
process subscribes to while it has a member of the group, and leaves when the
last one goes. Most processes have no dashboard open;
they would otherwise read every order's messages twice, and every
placement's once more.

A consumer's own channel is a queue in its process, with no Redis
subscription: nothing here sends to a consumer by name. A channel with
another prefix, or a send() to one, is subscribed as the stock layer does.
"""

import asyncio
import logging
import math
import re
import time
import uuid

import redis
from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close, decode_hosts
from redis.connection import parse_url

from config.group_subscriber import GroupSubscriber
from config.per_process import per_process

logger = logging.getLogger(__name__)

CONSUMER_PREFIX = "specific."
_GROUP_NAME = re.compile(r"[a-zA-Z0-9\-_.]{1,99}")
# How long group_add() waits for Redis to take its process's subscription.
LISTEN_TIMEOUT_SECONDS = 5.0
# The type of what each member of a group gets when its group's messages may
# have been lost (see GroupChannelLoopLayer.resubscribed): consumers handle it.
RESUBSCRIBED = "layer.resubscribed"
# How long a synchronous group send waits for Redis before it gives up.
SYNC_SEND_TIMEOUT_SECONDS = 1.0


class GroupChannelLayer(RedisPubSubChannelLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.group_host = decode_hosts(kwargs.get("hosts"))[0]
        # Pub/sub channels are server-wide, not per database: naming the
        # database keeps an engine's groups apart from another's (the tests',
        # the bench's) on the same Redis, as their queues and data are.
        address = self.group_host.get("address", "")
        database = parse_url(address).get("db", 0) if "://" in address else 0
        self.group_channel = f"{kwargs.get('prefix', 'asgi')}__groups__.db{database}"
        self.wide_groups = frozenset(kwargs.get("wide_groups", ()))

    def _get_layer(self):
        # The stock _get_layer(), with this module's loop layer.
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = GroupChannelLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer

    def channel_of(self, group: str) -> str:
        """The Redis channel a group's messages go through."""
        return f"{self.group_channel}.{group}" if group in self.wide_groups else self.group_channel

    def group_publishes(self, sends) -> list[tuple[str, bytes]]:
        """The PUBLISHes (channel, data) that send each (group, message), in
        order: one per group channel."""
        by_channel: dict[str, list] = {}
        for group, message in sends:
            if not _GROUP_NAME.fullmatch(group):
                # Channels' own rule; it keeps the PUBLISH's first line parseable.
                raise TypeError(f"group name {group!r}: ASCII letters, digits, '-', '_' and '.' only")
            by_channel.setdefault(self.channel_of(group), []).append([group, message])
        return [
            (
                channel,
                f"@{time.time()!r} ".encode()
                + " ".join({group: None for group, _ in each}).encode()
                + b"\n"
                + self.serialize({"sends": each}),
            )
            for channel, each in by_channel.items()
        ]

    def published(self, data: bytes) -> tuple[list[str], dict]:
        """The group names a group channel's PUBLISH carries, and its
        message, decoded."""
        named, body = _split(data)
        names = named.decode().split(" ") if named else []
        return [name for name in names if not name.startswith("@")], self.deserialize(body)

    async def group_send_many(self, sends) -> None:
        """Send each (group, message), in order, in one round trip."""
        await self._get_layer().group_send_many(sends)

    def group_send_many_sync(self, sends) -> None:
        """group_send_many() for synchronous code (a job, a request's
        thread), on the calling thread: its PUBLISHes in one pipeline on a
        plain Redis client, with no event loop or thread in between. Raises
        redis.RedisError, after SYNC_SEND_TIMEOUT_SECONDS if Redis hangs."""
        pipeline = self._client().pipeline(transaction=False)
        for channel, data in self.group_publishes(sends):
            pipeline.publish(channel, data)
        pipeline.execute()

    def _client(self) -> redis.Redis:
        # One per process and Redis server (its pool is thread-safe).
        def make() -> redis.Redis:
            options = {key: value for key, value in self.group_host.items() if key != "address"}
            options.update(
                socket_timeout=SYNC_SEND_TIMEOUT_SECONDS,
                socket_connect_timeout=SYNC_SEND_TIMEOUT_SECONDS,
            )
            return redis.Redis.from_url(self.group_host["address"], **options)

        return per_process(("channel-layer-sends", self.group_host["address"]), make)


def published_at(data: bytes) -> float | None:
    """When a group channel's PUBLISH was sent (time.time()), if it says."""
    if data[:1] != b"@":
        return None
    stamp, space, _ = data[1:].partition(b"\n")[0].partition(b" ")
    try:
        stamp = float(stamp)
    except ValueError:
        return None
    return stamp if space and 0 < stamp < math.inf else None


def _split(data: bytes) -> tuple[bytes, bytes]:
    """A group channel's PUBLISH: (its line of group names, its serialized
    sends). One from a process of the version before the line starts with
    msgpack's map byte (0x80-0x8f; a group name, ASCII, cannot): it is read
    whole. That holds for msgpack unencrypted, as settings.CHANNEL_LAYERS
    has it; with `symmetric_encryption_keys`, restart every process at once."""
    if data[:1] >= b"\x80":
        return b"", data
    named, _, body = data.partition(b"\n")
    return named, body


class _Shard(RedisSingleShardConnection):
    async def publish_many(self, publishes: list[tuple[str, bytes]]) -> None:
        if len(publishes) == 1:
            await self.publish(*publishes[0])
            return
        async with self._lock:
            self._ensure_redis()
            async with self._redis.pipeline(transaction=False) as pipeline:
                for channel, data in publishes:
                    pipeline.publish(channel, data)
                await pipeline.execute()

    def _receive_message(self, message):
        # Only channels subscribed by name come this way (the group channels
        # have a GroupSubscriber): their queues hold messages, not bytes.
        if message is None:
            return
        name = message["channel"].decode()
        if name in self.channel_layer.channels:
            data = self.channel_layer.channel_layer.deserialize(message["data"])
            self.channel_layer.channels[name].put_nowait(data)


class GroupChannelLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [_Shard(shard.host, self) for shard in self._shards]
        self._subscriber: GroupSubscriber | None = None

    @property
    def _group_shard(self) -> RedisSingleShardConnection:
        return self._shards[0]

    async def new_channel(self, prefix: str = CONSUMER_PREFIX) -> str:
        if prefix != CONSUMER_PREFIX:
            return await super().new_channel(prefix)
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        return channel

    async def receive(self, channel):
        if channel not in self.channels:
            await self._subscribe_to_channel(channel)
        queue = self.channels[channel]
        try:
            return await queue.get()
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            # The consumer is stopping (see the stock receive()): drop its
            # queue, and its subscription if it had one.
            self.channels.pop(channel, None)
            shard = self._get_shard(channel)
            if channel in shard._subscribed_to:
                await shard.unsubscribe(channel)
            raise

    # --- groups ---------------------------------------------------------------

    def channel_of(self, group: str) -> str:
        return self.channel_layer.channel_of(group)

    async def _listen(self, channel: str) -> None:
        """Subscribe to a group channel, once, and return when Redis has
        taken the subscription."""
        if self._subscriber is None:
            self._subscriber = GroupSubscriber(
                self.channel_layer.group_host, self.deliver, self.resubscribed, published_at
            )
        await self._subscriber.subscribe(channel, LISTEN_TIMEOUT_SECONDS)

    def deliver(self, channel: bytes, data: bytes) -> None:
        named, body = _split(data)
        try:
            if named and not any(group in self.groups for group in named.decode().split(" ")):
                return  # for other processes' members: not worth decoding
            message = self.channel_layer.deserialize(body)
        except Exception:  # msgpack's, UnicodeDecodeError, a decryption's InvalidToken
            # Dropped here: raised, it would stall the layer's reader for a second.
            logger.warning("channel layer: dropped an unreadable message on %s", channel.decode())
            return
        # .get: a probe from a process of the version before carries no sends.
        for group, payload in message.get("sends", ()):
            # Every member gets the same dict: consumers only read messages.
            for channel in self.groups.get(group, ()):
                queue = self.channels.get(channel)
                if queue is not None:
                    queue.put_nowait(payload)

    def resubscribed(self, channel: bytes, since: float) -> None:
        """A group channel is subscribed again after a lost connection: its
        messages in between are gone, so each member of its groups gets a
        `layer.resubscribed` message, to catch up on what it follows. `since`
        (time.time()) is when the last message the lost connection read was
        sent: what was sent after that may be gone."""
        message = {"type": RESUBSCRIBED, "since": since}
        told = set()
        for group, members in self.groups.items():
            if self.channel_of(group).encode() != channel:
                continue
            for member in members - told:
                queue = self.channels.get(member)
                if queue is not None:
                    queue.put_nowait(message)
            told |= members

    async def group_add(self, group, channel):
        if channel not in self.channels:
            raise RuntimeError(f"group_add({group!r}, {channel!r}): the channel is not in this process")
        # A member first: a group_discard() meanwhile of the group's last
        # other member then leaves the subscription standing.
        members = self.groups.setdefault(group, set())
        joined = channel not in members
        members.add(channel)
        try:
            await self._listen(self.channel_of(group))
        except BaseException:
            if joined:
                await self.group_discard(group, channel)
            raise

    async def group_discard(self, group, channel):
        members = self.groups.get(group)
        if members is None:
            return
        members.discard(channel)
        if members:
            return
        del self.groups[group]
        if group in self.channel_layer.wide_groups and self._subscriber is not None:
            self._subscriber.unsubscribe(self.channel_of(group))

    async def group_send(self, group, message):
        await self.group_send_many([(group, message)])

    async def group_send_many(self, sends):
        await self._group_shard.publish_many(self.channel_layer.group_publishes(sends))

    async def flush(self):
        if self._subscriber is not None:
            self._subscriber.close()
            self._subscriber = None
        await super().flush()
