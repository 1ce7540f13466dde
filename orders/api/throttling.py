"""RATE_LIMIT_PER_MINUTE placements per client address, over REST, the
placement socket and the dashboard's form alike, counted in Redis so that every server process
shares one budget; QUOTE_RATE_LIMIT_PER_MINUTE quotes per client address, a
budget of its own (a quote holds a web thread for the DEXes' latency).

DRF's SimpleRateThrottle keeps every request's time in a list in the cache,
and reads, filters and writes the whole list back on each request: two round
trips and a pickled list of up to a minute's requests, 0.4 ms of CPU per
POST with 100 requests in the last minute and 0.7 ms with 6,000, growing
with the rate it is meant to limit. Here a client's budget is two counters,
this minute's and the last one's, read and raised by one script in one round
trip (0.11 ms at any rate). The count it limits is the sliding-window estimate

    last minute's count * (share of the window still overlapping it) + this minute's count

which assumes last minute's requests were spread evenly over it. A refused
request is not counted, so a client that keeps trying is let in again as
soon as its estimate allows.
"""

import math
import time

import redis
from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from config.per_process import per_process

WINDOW_SECONDS = 60
KEY_PREFIX = "orders:placements"
QUOTE_KEY_PREFIX = "orders:quotes"
# A POST waits at most this long for a Redis that hangs; then the limit lets it through.
REDIS_TIMEOUT_SECONDS = 1.0

# KEYS: this window's counter, the last window's. ARGV: the limit, the last
# window's weight, the counter's lifetime. Returns {allowed, this, last}.
_COUNT_IF_ALLOWED = """
local this = tonumber(redis.call("get", KEYS[1]) or "0")
local last = tonumber(redis.call("get", KEYS[2]) or "0")
if last * tonumber(ARGV[2]) + this + 1 > tonumber(ARGV[1]) then
    return {0, this, last}
end
redis.call("incr", KEYS[1])
redis.call("expire", KEYS[1], ARGV[3])
return {1, this + 1, last}
"""


def retry_after(limit: int, this: int, last: int, elapsed: float) -> float:
    """Seconds until one more request fits under `limit`, `elapsed` seconds
    into the window, with `this` counted in it and `last` in the one before."""
    if this + 1 > limit:
        # Not in this window; in the next, this one's count weighs as `last`.
        return WINDOW_SECONDS - elapsed + retry_after(limit, 0, this, 0.0)
    # last * (1 - t / WINDOW) + this + 1 <= limit, for the first t >= elapsed.
    overlap_allowed = (limit - this - 1) / last
    return max(WINDOW_SECONDS * (1 - overlap_allowed) - elapsed, 0.0)


def _script():
    """The script, on a Redis client of this process's own with short
    timeouts (the queue's client has none, and a placement must not hang on
    Redis), registered once: it then runs by its SHA, and is loaded again
    if Redis lost it."""

    def make():
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        return client.register_script(_COUNT_IF_ALLOWED)

    return per_process("placement-limit", make)


def _now() -> float:
    return time.time()


def client_address(peer: str, forwarded_for: str | None) -> str:
    """The address a placement counts against. Behind TRUSTED_PROXIES
    proxies, each appending the address it took the request from to
    X-Forwarded-For, the one the outermost of them saw: the TRUSTED_PROXIES-th
    from the right. Otherwise the peer's own address: the header is the
    client's to write, and would give it a new budget with each request."""
    proxies = settings.TRUSTED_PROXIES
    if proxies and forwarded_for:
        addresses = [address.strip() for address in forwarded_for.split(",")]
        return addresses[-min(proxies, len(addresses))]
    return peer


def count_placement(client: str) -> float | None:
    """Count one placement against the client's budget: None if it fits,
    else the seconds until one would (and it is not counted)."""
    return _count(KEY_PREFIX, client, settings.RATE_LIMIT_PER_MINUTE)


def _count(budget: str, client: str, limit: int) -> float | None:
    if not limit:
        return None
    window, elapsed = divmod(_now(), WINDOW_SECONDS)
    # The client in braces: a Redis Cluster keeps both of its counters on one node.
    client = f"{{{client}}}"
    keys = [f"{budget}:{client}:{int(window)}", f"{budget}:{client}:{int(window) - 1}"]
    weight = 1 - elapsed / WINDOW_SECONDS
    try:
        allowed, this, last = _script()(keys=keys, args=[limit, weight, 2 * WINDOW_SECONDS])
    except RedisError:
        # The budget lives in Redis; when Redis is down, placing orders
        # (which the database keeps) matters more than counting them.
        return None
    if allowed:
        return None
    return retry_after(limit, int(this), int(last), elapsed)


def whole_seconds(wait: float) -> int:
    # Rounded up: a client that waits exactly this long is let in.
    return max(math.ceil(wait), 1)


def too_many_orders(wait: float) -> str:
    return f"Too many orders; try again in {whole_seconds(wait)} seconds."


def too_many_quotes(wait: float) -> str:
    return f"Too many quotes; try again in {whole_seconds(wait)} seconds."


class PlacementThrottle(BaseThrottle):
    # A wrong method places nothing: a 405, not counted.
    methods = ("POST",)
    budget, limit_setting = KEY_PREFIX, "RATE_LIMIT_PER_MINUTE"
    refusal = staticmethod(too_many_orders)

    def __init__(self):
        self.wait_seconds: float | None = None

    def get_ident(self, request) -> str:
        return client_address(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR"))

    def allow_request(self, request, view) -> bool:
        if request.method not in self.methods:
            return True
        limit = getattr(settings, self.limit_setting)
        self.wait_seconds = _count(self.budget, self.get_ident(request), limit)
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return None if self.wait_seconds is None else whole_seconds(self.wait_seconds)


class QuoteThrottle(PlacementThrottle):
    methods = ("GET", "HEAD")  # HEAD runs the quote too
    budget, limit_setting = QUOTE_KEY_PREFIX, "QUOTE_RATE_LIMIT_PER_MINUTE"
    refusal = staticmethod(too_many_quotes)
