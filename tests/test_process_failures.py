"""Our own processes fail: a worker is killed, Redis goes away, the engine is
stopped. Every accepted order still ends exactly once, and swaps once."""

import os
import signal
import subprocess

import pytest
import redis
from rq import Queue, Worker

from routing.models import Pool
from tests.engine import Engine, free_port, wait_until


def swaps_executed() -> int:
    return sum(Pool.objects.values_list("swaps_executed", flat=True))


def busy_worker_pid(redis_url: str, order_id: str) -> int | None:
    connection = redis.Redis.from_url(redis_url)
    for worker in Worker.all(queue=Queue("orders", connection=connection)):
        job = worker.get_current_job()
        if job is not None and order_id in job.args:
            return worker.pid
    return None


def test_a_worker_killed_mid_order_does_not_lose_or_double_it(engines, market, settings):
    # Quotes take 3 s, so the kill lands while the order is being routed.
    engine = engines("worker-kill", MOCK_QUOTE_LATENCY_MS="3000", ORDER_STALL_SECONDS="5")
    before = swaps_executed()
    placed = engine.place({"amount": "1"})
    order_id = placed["orderId"]

    pid = wait_until(
        lambda: busy_worker_pid(settings.REDIS_URL, order_id), timeout=15, message="a busy worker"
    )
    assert engine.order(order_id)["status"] == "routing"
    os.kill(pid, signal.SIGKILL)

    order = engine.wait_terminal(order_id, timeout=60)
    assert order["status"] == "confirmed"
    statuses = [entry["status"] for entry in order["history"]]
    assert statuses.count("confirmed") == 1 and statuses.count("submitted") == 1
    assert swaps_executed() - before == 1
    assert engine.healthy(), "the worker pool replaces the killed worker"


def test_a_worker_killed_while_settling_swaps_exactly_once(engines, market, settings):
    engine = engines("settle-kill", MOCK_SWAP_LATENCY_MS="300", ORDER_STALL_SECONDS="5")
    before = swaps_executed()
    orders = [engine.place({"amount": "0.3"})["orderId"] for _ in range(6)]

    # Kill whichever worker is busy as the orders settle, twice.
    for _ in range(2):
        pid = wait_until(
            lambda: next(filter(None, (busy_worker_pid(settings.REDIS_URL, oid) for oid in orders)), None),
            timeout=15,
            interval=0.01,
            message="a busy worker",
        )
        os.kill(pid, signal.SIGKILL)

    finished = [engine.wait_terminal(order_id, timeout=60) for order_id in orders]
    confirmed = sum(order["status"] == "confirmed" for order in finished)
    assert confirmed == len(orders)
    assert swaps_executed() - before == confirmed


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, on its own port, to stop and restart."""
    port = free_port()
    argv = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    server = {"process": None}

    def start():
        server["process"] = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        wait_until(lambda: _pings(port), timeout=10, message="redis-server to start")

    def stop():
        server["process"].terminate()
        server["process"].wait(timeout=10)

    start()
    yield {"url": f"redis://127.0.0.1:{port}/0", "start": start, "stop": stop}
    if server["process"].poll() is None:
        stop()


def _pings(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_connect_timeout=0.2).ping()
    except redis.RedisError:
        return False


def test_an_order_placed_while_redis_is_down_is_kept_and_executed_when_it_returns(
    own_redis, market, no_engine, django_db_blocker
):
    with django_db_blocker.unblock():
        engine = Engine(
            "redis-outage",
            {
                "REDIS_URL": own_redis["url"],
                "MOCK_QUOTE_LATENCY_MS": "0",
                "MOCK_SWAP_LATENCY_MS": "100",
                "MARKET_DRIFT_SECONDS": "0",
            },
        ).start()
    try:
        first = engine.place({"amount": "0.1"})
        assert engine.wait_terminal(first["orderId"])["status"] == "confirmed"

        own_redis["stop"]()
        status, health = engine.request("GET", "/api/health")
        assert status == 503 and health["redis"].startswith("down")
        placed = engine.place({"amount": "0.1"})
        assert engine.order(placed["orderId"])["status"] == "pending"

        own_redis["start"]()
        order = engine.wait_terminal(placed["orderId"], timeout=60)
        assert order["status"] == "confirmed"
    finally:
        engine.stop()


def test_orders_in_flight_when_redis_restarts_all_finish(own_redis, market, no_engine, django_db_blocker):
    """Redis restarts empty: queued jobs and settlement timers are gone. The
    clock's sweep finds the orders in the database and finishes them."""
    with django_db_blocker.unblock():
        engine = Engine(
            "redis-restart",
            {
                "REDIS_URL": own_redis["url"],
                "MOCK_QUOTE_LATENCY_MS": "200",
                "MOCK_SWAP_LATENCY_MS": "1500",
                "ORDER_STALL_SECONDS": "3",
                "MARKET_DRIFT_SECONDS": "0",
            },
        ).start()
    try:
        placed = [engine.place({"amount": "0.1"})["orderId"] for _ in range(8)]
        wait_until(
            lambda: engine.order(placed[0])["status"] != "pending", timeout=10, message="work under way"
        )

        own_redis["stop"]()
        own_redis["start"]()

        finished = [engine.wait_terminal(order_id, timeout=60) for order_id in placed]
        assert [order["status"] for order in finished] == ["confirmed"] * len(placed)
    finally:
        engine.stop()


def test_stopping_the_workers_mid_flight_loses_nothing(engines, market):
    """SIGTERM lets a worker finish its job; whatever was queued or timed
    waits in Redis and the database for the next worker."""
    engine = engines("shutdown", MOCK_SWAP_LATENCY_MS="1000", MOCK_QUOTE_LATENCY_MS="300")
    placed = [engine.place({"amount": "0.1"})["orderId"] for _ in range(6)]
    wait_until(
        lambda: engine.order(placed[0])["status"] in ("building", "submitted"),
        timeout=10,
        message="work under way",
    )

    worker = engine.processes.pop("worker")
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=30)
    engine.start_worker()

    finished = [engine.wait_terminal(order_id, timeout=60) for order_id in placed]
    assert [order["status"] for order in finished] == ["confirmed"] * len(placed)
