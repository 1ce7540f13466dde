"""The pub/sub channel layer, with each consumer's own channel kept in its
process.

Every consumer gets a channel of its own (`new_channel()`), and the stock
layer subscribes Redis to it and unsubscribes when the socket closes: two
commands on the pub/sub connection, and two replies for its reader to parse,
per socket. The consumers here get messages only through groups (an order's,
or the all-orders feed), which the layer still subscribes to in Redis and
hands to the channels in its process; nothing sends to a consumer's channel
by name. So a consumer's channel is only its queue in this process.

Channels made with another prefix are subscribed as usual: the web processes
keep one such subscription for their lifetime (orders.consumers
keep_layer_listening).
"""

import asyncio
import uuid

from channels_redis.pubsub import RedisPubSubChannelLayer

CONSUMER_PREFIX = "specific."


class GroupsOnlyPubSubChannelLayer(RedisPubSubChannelLayer):
    async def new_channel(self, prefix: str = CONSUMER_PREFIX) -> str:
        layer = self._get_layer()
        if prefix != CONSUMER_PREFIX:
            return await layer.new_channel(prefix)
        channel = f"{layer.prefix}{prefix}{uuid.uuid4().hex}"
        # What the stock layer does, less the SUBSCRIBE. Its receive() drops
        # the queue when the consumer stops, and unsubscribes only channels
        # it subscribed.
        layer.channels[channel] = asyncio.Queue()
        return channel
