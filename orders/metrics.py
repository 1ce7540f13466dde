"""Prometheus metrics for the engine.

Web servers, rq workers and the clock are separate processes, so
prometheus-client runs in multiprocess mode: each process writes its samples
to files in PROMETHEUS_MULTIPROC_DIR (set in settings) and /metrics adds them
up (orders/metrics_view.py). What is a count of rows or of queued jobs is not
kept in any process at all: `EngineCollector` reads it from the database and
Redis when /metrics is scraped, so it is right whichever machine answers.

The hooks are one line each: `moves_recorded` in services.batch(), and
`websocket_connected` / `websocket_disconnected` in the consumers.
"""

import atexit
import logging
import os

from django.conf import settings
from django.db import transaction
from prometheus_client import Counter, Gauge, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import RedisError

from orders.models import IN_FLIGHT_STATUSES, Order, OrderEvent, OrderStatus

log = logging.getLogger(__name__)

# From a 20 ms quote to an order that waited minutes for a free slot.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300)

TRANSITIONS = Counter(
    "order_transitions",
    "Statuses reached by orders, by status and by the DEX chosen (none before routing chose one).",
    ["status", "dex"],
)
ROUTING_SECONDS = Histogram(
    "order_routing_seconds",
    "Time from routing to building: quoting every DEX and choosing the route, per attempt.",
    buckets=LATENCY_BUCKETS,
)
EXECUTION_SECONDS = Histogram(
    "order_execution_seconds",
    "Time from admission (first routing) to the terminal status.",
    ["status"],
    buckets=LATENCY_BUCKETS,
)
END_TO_END_SECONDS = Histogram(
    "order_end_to_end_seconds",
    "Time from placement to the terminal status, queueing in pending included.",
    ["status"],
    buckets=LATENCY_BUCKETS,
)
RETRIES = Counter("order_retries", "Attempts started again after a transient failure.")
SLIPPAGE_FAILURES = Counter(
    "order_slippage_failures", "Orders failed because the price moved past their slippage.", ["dex"]
)
WEBSOCKETS = Gauge(
    "websocket_connections",
    "Open WebSocket connections, by consumer.",
    ["consumer"],
    multiprocess_mode="livesum",
)


# Statuses that end a timed stretch: routing ends at building, execution and
# the whole order at a terminal status.
TIMED_STATUSES = (OrderStatus.BUILDING, OrderStatus.CONFIRMED, OrderStatus.FAILED)


def _routing_times(moves) -> dict:
    """When each order of these moves entered routing, oldest first: from the
    moves themselves, or (one query for all) from the history."""
    times = {move.order.id: [e.at for e in move.events if e.status == OrderStatus.ROUTING] for move in moves}
    ask = [
        move.order.id
        for move in moves
        if any(e.status in TIMED_STATUSES for e in move.events)
        and not any(e.status == OrderStatus.ROUTING and e.attempt == 1 for e in move.events)
    ]
    if ask:
        earlier = OrderEvent.objects.filter(order_id__in=ask, status=OrderStatus.ROUTING)
        for order_id, at in earlier.values_list("order_id", "at"):
            times[order_id].append(at)
        for order_id in ask:
            times[order_id] = sorted(set(times[order_id]))
    return times


def _observations(moves) -> list[tuple]:
    """What the statuses these moves reached add to the metrics; computed
    inside the transaction, applied once it commits."""
    routed = _routing_times(moves)
    out: list[tuple] = []
    for move in moves:
        order = move.order
        for event in move.events:
            # The venue as it was at that status: none before routing chose one.
            early = event.status in (OrderStatus.PENDING, OrderStatus.WAITING, OrderStatus.ROUTING)
            dex = event.data.get("dex") or ("none" if early else order.dex or "none")
            out.append((TRANSITIONS.labels(event.status, dex).inc, 1))
            if event.status == OrderStatus.ROUTING and event.attempt > 1:
                out.append((RETRIES.inc, 1))
            if event.status not in TIMED_STATUSES:
                continue
            starts = [at for at in routed[order.id] if at <= event.at]
            if event.status == OrderStatus.BUILDING:
                if starts:
                    out.append((ROUTING_SECONDS.observe, (event.at - starts[-1]).total_seconds()))
                continue
            if starts:
                out.append(
                    (EXECUTION_SECONDS.labels(event.status).observe, (event.at - starts[0]).total_seconds())
                )
            out.append(
                (
                    END_TO_END_SECONDS.labels(event.status).observe,
                    (event.at - order.created_at).total_seconds(),
                )
            )
            if event.status == OrderStatus.FAILED and order.error_code == "slippage_exceeded":
                out.append((SLIPPAGE_FAILURES.labels(dex).inc, 1))
    return out


def moves_recorded(moves) -> None:
    """These moves (`orders.services.Move`) were written: count them once the
    write commits, so a rolled-back transition counts nothing. Metrics never
    fail a write."""
    try:
        observations = _observations(moves)
    except Exception:
        log.exception("could not compute metrics for %d orders", len(moves))
        return

    def apply():
        for record, value in observations:
            record(value)

    transaction.on_commit(apply)


# --- WebSockets -------------------------------------------------------------------

_registered_exit = False


def websocket_connected(consumer) -> None:
    global _registered_exit
    if not _registered_exit:
        # A 'livesum' gauge keeps a file per process; drop ours when we exit.
        atexit.register(multiprocess.mark_process_dead, os.getpid())
        _registered_exit = True
    consumer._metrics_counted = True
    WEBSOCKETS.labels(type(consumer).__name__).inc()


def websocket_disconnected(consumer) -> None:
    if getattr(consumer, "_metrics_counted", False):
        consumer._metrics_counted = False
        WEBSOCKETS.labels(type(consumer).__name__).dec()


# --- Read at scrape time ---------------------------------------------------------


class EngineCollector:
    """Gauges that are facts about shared state, not about one process."""

    def collect(self):
        from orders import dispatch

        try:
            pending = Order.objects.filter(status=OrderStatus.PENDING).count()
            in_flight = Order.objects.filter(status__in=IN_FLIGHT_STATUSES).count()
        except Exception as exc:  # the database is down: report what we can
            log.warning("metrics: database unavailable (%s)", exc)
        else:
            yield GaugeMetricFamily(
                "orders_pending", "Orders accepted and waiting for a slot.", value=pending
            )
            yield GaugeMetricFamily(
                "orders_in_flight", "Orders between routing and a terminal status.", value=in_flight
            )
        yield GaugeMetricFamily(
            "order_concurrency_limit",
            "ORDER_CONCURRENCY: orders allowed in flight.",
            value=settings.ORDER_CONCURRENCY,
        )
        try:
            connection = dispatch.redis()
            queued = dispatch.queue().count
            timers = connection.zcard(dispatch.TIMERS_KEY)
        except RedisError as exc:
            log.warning("metrics: Redis unavailable (%s)", exc)
            return
        depth = GaugeMetricFamily("order_queue_depth", "Jobs waiting in the rq queue.", labels=["queue"])
        depth.add_metric([dispatch.QUEUE], queued)
        yield depth
        yield GaugeMetricFamily(
            "order_timers_pending", "Delayed jobs (settlements, retries) waiting for the clock.", value=timers
        )
