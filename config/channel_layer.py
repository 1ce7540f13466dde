"""The channel layer: Redis pub/sub, with every group on one Redis channel
and each group's members kept in their own process.

The stock pub/sub layer (channels_redis.pubsub) subscribes Redis to every
group a consumer joins and to the consumer's own channel, and unsubscribes
when it leaves. For a socket that follows one order that is four commands on
the subscriber connection, and four replies for its reader. And SUBSCRIBE is
asynchronous: a group_add() that returned does not mean the group's messages
reach the channel yet, so a consumer that must miss nothing (an order's
stream) had to send itself a marker through the group and wait for it.

Here a group send is one PUBLISH on the layer's one group channel,
`<prefix>__groups__.db<N>`, naming the group; a list of sends can go as one PUBLISH
(`group_send_many`). Each process's layer subscribes to that channel when its
first consumer joins a group, and sends a probe through it until the probe
comes back, once; from then on it hands every group message to its own
members of that group. So joining and leaving a group cost no Redis command,
and a message sent to a group after group_add() returned reaches the
channel. The price is that every web process reads every group message, also
those for groups it has no member of: one message per order per write
(BENCHMARKS.md measures it). Every group is on the first host of `hosts`.

A consumer's own channel is a queue in its process, with no Redis
subscription: nothing here sends to a consumer by name. A channel with
another prefix, or a send() to one, is subscribed as the stock layer does.
"""

import asyncio
import uuid

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close
from redis.connection import parse_url

CONSUMER_PREFIX = "specific."
# How long a layer tries to see its probe come back before group_add() fails.
LISTEN_TIMEOUT_SECONDS = 5.0
PROBE_INTERVAL_SECONDS = 0.1


class GroupChannelLayer(RedisPubSubChannelLayer):
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

    async def group_send_many(self, sends) -> None:
        """Send each (group, message), in order, in one PUBLISH."""
        await self._get_layer().group_send_many(sends)


class _Shard(RedisSingleShardConnection):
    def _receive_message(self, message):
        if message is None:
            return
        if message["channel"] == self.channel_layer.group_channel_bytes:
            self.channel_layer.deliver(message["data"])
            return
        # A channel subscribed by name: its queue holds messages, not bytes.
        name = message["channel"].decode()
        if name in self.channel_layer.channels:
            data = self.channel_layer.channel_layer.deserialize(message["data"])
            self.channel_layer.channels[name].put_nowait(data)


class GroupChannelLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [_Shard(shard.host, self) for shard in self._shards]
        # Pub/sub channels are server-wide, not per database: naming the
        # database keeps an engine's groups apart from another's (the tests',
        # the bench's) on the same Redis, as their queues and data are.
        address = self._group_shard.host.get("address", "")
        database = parse_url(address).get("db", 0) if "://" in address else 0
        self.group_channel = f"{self.prefix}__groups__.db{database}"
        self.group_channel_bytes = self.group_channel.encode()
        self._listening: asyncio.Future | None = None
        self._probe = uuid.uuid4().hex

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

    async def _listen(self) -> None:
        """Subscribe to the group channel, once, and return when Redis has
        taken the subscription: when a probe sent through it came back."""
        if self._listening is None or (self._listening.done() and self._listening.exception()):
            self._listening = asyncio.get_running_loop().create_future()
            asyncio.ensure_future(self._subscribe_and_probe(self._listening))
        await asyncio.shield(self._listening)

    async def _subscribe_and_probe(self, listening: asyncio.Future) -> None:
        try:
            await self._group_shard.subscribe(self.group_channel)
            probe = self.channel_layer.serialize({"probe": self._probe})
            deadline = asyncio.get_running_loop().time() + LISTEN_TIMEOUT_SECONDS
            while not listening.done():
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"no reply through {self.group_channel} from Redis")
                await self._group_shard.publish(self.group_channel, probe)
                await asyncio.wait([listening], timeout=PROBE_INTERVAL_SECONDS)
        except Exception as exc:
            if not listening.done():
                listening.set_exception(exc)

    def deliver(self, data: bytes) -> None:
        message = self.channel_layer.deserialize(data)
        if "probe" in message:
            if message["probe"] == self._probe and self._listening and not self._listening.done():
                self._listening.set_result(None)
            return
        for group, payload in message["sends"]:
            # Every member gets the same dict: consumers only read messages.
            for channel in self.groups.get(group, ()):
                queue = self.channels.get(channel)
                if queue is not None:
                    queue.put_nowait(payload)

    async def group_add(self, group, channel):
        if channel not in self.channels:
            raise RuntimeError(f"group_add({group!r}, {channel!r}): the channel is not in this process")
        await self._listen()
        self.groups.setdefault(group, set()).add(channel)

    async def group_discard(self, group, channel):
        members = self.groups.get(group)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.groups[group]

    async def group_send(self, group, message):
        await self.group_send_many([(group, message)])

    async def group_send_many(self, sends):
        data = self.channel_layer.serialize({"sends": [[group, message] for group, message in sends]})
        await self._group_shard.publish(self.group_channel, data)

    async def flush(self):
        self._listening = None
        await super().flush()
