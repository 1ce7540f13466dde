"""The channel layer's subscription to its group channels: one Redis
connection per process and event loop, read by a parser of its own.

Every web process reads every order's broadcast (config/channel_layer.py),
so what reading one message costs is paid once per process per write.
Through redis-py's asyncio PubSub, as channels-redis reads it, a message
passes a retry wrapper, a timeout and a parser that awaits each line:
146-183 µs of CPU per message on a slow 2-core machine, against 49-59 µs
here (`python -m bench.subscriber`, both side by side on the same messages).
This is a protocol that parses RESP2, the replies a subscribed connection
gets, as each read brings them, and hands each message on in the same call.

It also knows when a subscription has taken. Redis answers a connection's
commands in order and runs every command to its end, so once the reply to a
SUBSCRIBE is back, every PUBLISH that Redis runs after it reaches this
connection. subscribe() returns then.

A lost connection is made again (0.1 s between tries, doubling to 2 s), and
everything it was subscribed to is subscribed again. Once the loss is seen
(at once for a closed connection; within a minute, through TCP keepalive,
for a peer gone silent), subscribe() waits for the new subscription. What
was published in between is lost, so on_resubscribed hears of each channel
subscribed again, with the time from which messages may be gone: when the
last message the lost connection read was sent (Redis sends a connection its
messages in the order they were published), or, if it read none, when it
last read anything. The layer tells the members of its groups, and a socket
catches up from the database (orders/consumers.py).
"""

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Callable

from redis.asyncio.connection import SSLConnection as AsyncSSLConnection
from redis.connection import SSLConnection, parse_url

logger = logging.getLogger("config.channel_layer")

RECONNECT_FIRST_SECONDS = 0.1
RECONNECT_MOST_SECONDS = 2.0
# A connection that lasted this long starts its reconnects at the first pause
# again; one Redis keeps dropping (a subscriber over its output buffer limit,
# say) backs off further each time.
STABLE_SECONDS = 10.0
# A host that drops packets would hold a connect for the kernel's SYN retries.
CONNECT_TIMEOUT_SECONDS = 5.0
# Reads have no timeout (a subscriber waits as long as it takes), so TCP
# keepalive finds a peer that went away without a word: after 30 s idle,
# 3 probes 10 s apart, instead of the kernel's default of over two hours.
# Keepalive stays silent while a write is unacknowledged (a SUBSCRIBE sent
# into the silence): the user timeout gives up on that after 60 s, not the
# 15 minutes of retransmissions.
KEEPALIVE = {"TCP_KEEPIDLE": 30, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 3, "TCP_USER_TIMEOUT": 60_000}


class Incomplete(Exception):
    """The buffer ends inside a reply: wait for the next read."""


class RedisReplyError(Exception):
    pass


def parse_reply(buffer: bytearray, start: int) -> tuple[object, int]:
    """One RESP2 reply from buffer[start:]: (the reply, where the next one
    starts). Raises Incomplete if the buffer ends inside it."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        raise Incomplete
    kind, line, start = buffer[start], buffer[start + 1 : end], end + 2
    if kind == 0x24:  # $: a bulk string
        size = int(line)
        if size < 0:
            return None, start
        if len(buffer) < start + size + 2:
            raise Incomplete
        return bytes(buffer[start : start + size]), start + size + 2
    if kind == 0x2A:  # *: an array
        items = []
        for _ in range(int(line)):
            item, start = parse_reply(buffer, start)
            items.append(item)
        return items, start
    if kind == 0x3A:  # :, an integer
        return int(line), start
    if kind == 0x2B:  # +, a simple string
        return bytes(line), start
    if kind == 0x2D:  # -, an error
        return RedisReplyError(line.decode("utf-8", "replace")), start
    raise RedisReplyError(f"not a RESP2 reply: {chr(kind)!r} {bytes(line[:40])!r}")


def command(*parts: bytes) -> bytes:
    return b"".join([b"*%d\r\n" % len(parts), *(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)])


class GroupSubscriber(asyncio.Protocol):
    """Subscribes one connection to channels and hands each message,
    (channel, data), to on_message on the event loop; and each channel
    subscribed again after a lost connection, whose messages in between are
    gone, to on_resubscribed."""

    def __init__(
        self,
        host: dict,
        on_message: Callable[[bytes, bytes], None],
        on_resubscribed: Callable[[bytes, float], None] = lambda channel, since: None,
        published_at: Callable[[bytes], float | None] = lambda data: None,
    ):
        self._endpoint = _endpoint(host)
        self._on_message = on_message
        self._on_resubscribed = on_resubscribed
        self._published_at = published_at
        # Channels that were subscribed when a connection was lost -> the time
        # (time.time()) from which their messages may be gone.
        self._lost: dict[bytes, float] = {}
        self._heard_at = 0.0  # when this connection last read anything
        self._last_message: bytes | None = None  # the last message it read
        # Channel -> done once the reply to its latest SUBSCRIBE on this
        # connection is back; a fresh one after a reconnect.
        self._subscribed: dict[bytes, asyncio.Future] = {}
        # SUBSCRIBEs sent on this connection and not answered yet, per channel:
        # after SUBSCRIBE, UNSUBSCRIBE, SUBSCRIBE only the second reply counts.
        self._unanswered: dict[bytes, int] = {}
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._connecting: asyncio.Task | None = None
        # How long to wait before connecting: 0 while the last connection
        # worked; after a failure, 0.1 s, doubling up to 2 s.
        self._retry_in = 0.0
        self._connected_at = 0.0
        self._closed = False

    async def subscribe(self, channel: str, timeout: float) -> None:
        """Return once Redis has taken the subscription; TimeoutError if it
        has not within `timeout` seconds."""
        if self._closed:
            raise RedisReplyError("the channel layer's subscriber is closed")
        key = channel.encode()
        taken = self._subscribed.get(key)
        if taken is None:
            taken = self._subscribed[key] = asyncio.get_running_loop().create_future()
            if self._transport is not None:
                self._send_subscribe([key])
        self._connect_soon()
        async with asyncio.timeout(timeout):
            await asyncio.shield(taken)

    def unsubscribe(self, channel: str) -> None:
        key = channel.encode()
        self._lost.pop(key, None)
        taken = self._subscribed.pop(key, None)
        if taken is not None:
            _fail(taken, RedisReplyError(f"unsubscribed from {channel} before Redis took it"))
        if self._transport is not None:
            self._transport.write(command(b"UNSUBSCRIBE", key))

    def close(self) -> None:
        self._closed = True
        self._fail_waiting(RedisReplyError("the channel layer's subscriber is closed"))
        self._subscribed.clear()
        if self._connecting is not None:
            self._connecting.cancel()
        if self._transport is not None:
            self._transport.close()

    # --- the connection -----------------------------------------------------

    def _connect_soon(self) -> None:
        if self._transport is None and self._connecting is None and not self._closed:
            self._connecting = asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        address, unix, options, _ = self._endpoint
        loop = asyncio.get_running_loop()
        connect = loop.create_unix_connection if unix else loop.create_connection
        try:
            while not self._closed and self._transport is None:
                await asyncio.sleep(self._retry_in)
                try:
                    async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                        await connect(lambda: self, **options)
                except (OSError, TimeoutError) as exc:
                    self._back_off()
                    logger.warning(
                        "channel layer: no Redis at %s (%s); again in %.1f s", address, exc, self._retry_in
                    )
        except Exception:
            logger.exception("channel layer: the subscriber could not connect; again on the next group_add()")
        finally:
            self._connecting = None

    def _back_off(self) -> None:
        self._retry_in = min(max(self._retry_in * 2, RECONNECT_FIRST_SECONDS), RECONNECT_MOST_SECONDS)

    def _send_subscribe(self, channels: list[bytes]) -> None:
        for channel in channels:
            self._unanswered[channel] = self._unanswered.get(channel, 0) + 1
        self._transport.write(command(b"SUBSCRIBE", *channels))

    def connection_made(self, transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for option, value in KEEPALIVE.items():
                if hasattr(socket, option):  # Linux's names
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
        # AUTH goes first, before any other task can see the transport and
        # write a SUBSCRIBE that Redis would refuse.
        auth = self._endpoint[3]
        if auth is not None:
            transport.write(command(b"AUTH", *auth))
        self._transport = transport
        self._connected_at = asyncio.get_running_loop().time()
        self._heard_at = time.time()
        self._last_message = None
        if self._subscribed:
            self._send_subscribe(list(self._subscribed))

    def connection_lost(self, exc) -> None:
        self._transport = None
        if asyncio.get_running_loop().time() - self._connected_at > STABLE_SECONDS:
            self._retry_in = 0.0
        self._buffer.clear()
        self._unanswered.clear()
        read_up_to = self._heard_at
        if self._last_message is not None:
            try:
                read_up_to = min(read_up_to, self._published_at(self._last_message) or read_up_to)
            except Exception:
                logger.exception("channel layer: could not tell when the last message was sent")
        for channel, taken in self._subscribed.items():
            # Taken on this connection. (One lost before and not taken since
            # is not: its first loss stands.)
            if taken.done():
                if not taken.exception():
                    self._lost[channel] = read_up_to
                self._subscribed[channel] = asyncio.get_running_loop().create_future()
        if not self._closed:
            self._back_off()
            logger.warning(
                "channel layer: lost its Redis subscription (%s); subscribing again", exc or "closed"
            )
            self._connect_soon()

    def data_received(self, data: bytes) -> None:
        self._heard_at = time.time()
        buffer = self._buffer
        buffer += data
        start = 0
        try:
            while start < len(buffer):
                reply, start = parse_reply(buffer, start)
                self._reply(reply)
        except Incomplete:
            pass
        except (RedisReplyError, ValueError) as exc:
            logger.error("channel layer: unreadable reply from Redis (%s); connecting again", exc)
            self._transport.close()
            return
        del buffer[:start]

    def _reply(self, reply) -> None:
        if isinstance(reply, list) and reply:
            kind = reply[0]
            if kind == b"message":
                self._last_message = reply[2]
                try:
                    self._on_message(reply[1], reply[2])
                except Exception:
                    logger.exception("channel layer: a message's delivery failed")
            elif kind == b"subscribe":
                self._taken(reply[1])
            return
        if isinstance(reply, RedisReplyError):
            # AUTH refused, say: the waiting subscribe() calls fail now rather
            # than at their timeout, and the connection is made again later.
            logger.error("channel layer: Redis refused the subscriber: %s", reply)
            self._fail_waiting(reply)
            self._transport.close()

    def _fail_waiting(self, error: Exception) -> None:
        for taken in self._subscribed.values():
            _fail(taken, error)

    def _taken(self, channel: bytes) -> None:
        left = self._unanswered.get(channel, 0) - 1
        if left > 0:
            self._unanswered[channel] = left
            return
        self._unanswered.pop(channel, None)
        taken = self._subscribed.get(channel)
        if taken is not None and not taken.done():
            taken.set_result(None)
        since = self._lost.pop(channel, None)
        if since is not None and taken is not None:
            try:
                self._on_resubscribed(channel, since)
            except Exception:
                logger.exception("channel layer: telling the members of %s failed", channel.decode())


def _fail(taken: asyncio.Future, error: Exception) -> None:
    if not taken.done():
        taken.set_exception(error)
        taken.exception()  # nobody may be waiting: not an unretrieved error


def _endpoint(host: dict) -> tuple[str, bool, dict, tuple[bytes, ...] | None]:
    """(a printable address, a Unix socket?, the loop's connect options, the
    AUTH arguments or None) for a channel layer host: {"address": URL} or
    {"host": ..., "port": ...}, with redis-py's connection options beside
    either (username, password, the ssl_ ones)."""
    if "address" in host:
        options = {**parse_url(host["address"]), **{k: v for k, v in host.items() if k != "address"}}
    elif "host" in host:
        options = dict(host)
    else:
        raise ValueError("the channel layer's first host needs an address (a redis:// URL) or a host")
    password = options.get("password")
    auth = None
    if password is not None:
        auth = tuple(str(part).encode() for part in (options.get("username"), password) if part)
    if "path" in options:
        return options["path"], True, {"path": options["path"]}, auth
    tcp = {"host": options.get("host", "localhost"), "port": int(options.get("port", 6379))}
    if options.get("connection_class") is SSLConnection or options.get("ssl"):
        tcp["ssl"] = _tls(options)
    return f"{tcp['host']}:{tcp['port']}", False, tcp, auth


def _tls(options: dict) -> ssl.SSLContext:
    """The TLS context redis-py makes of the same ssl_ options."""
    return AsyncSSLConnection(**{k: v for k, v in options.items() if k.startswith("ssl_")}).ssl_context.get()
