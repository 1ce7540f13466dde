"""Our own processes fail: a worker is killed, Redis goes away, the engine is
stopped. Every accepted order still ends exactly once, and swaps once."""

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest
import redis
from django.db import transaction
from rq import Queue, Worker, worker_registration
from rq.exceptions import NoSuchJobError

from bench.procs import descendants
from config.threads import MAIN_THREAD_SIGNALS
from orders import broadcast, dispatch
from orders.models import Order
from orders.worker import OrderWorker
from routing import routes
from routing.models import Pool
from tests.engine import Engine, blocked_signals, free_port, wait_until


def swaps_executed() -> int:
    return sum(Pool.objects.values_list("swaps_executed", flat=True))


def busy_worker_pid(redis_url: str, order_id: str) -> int | None:
    connection = redis.Redis.from_url(redis_url)
    for worker in Worker.all(queue=Queue("orders", connection=connection)):
        try:
            job = worker.get_current_job()
        except NoSuchJobError:
            continue  # its job ended, and was deleted, between the two reads
        if job is not None and order_id in job.args:
            return worker.pid
    return None


@contextlib.contextmanager
def order_row_locked(order_id: str):
    """Hold the order's row (on SQLite, the database's write lock) so that a
    worker that comes to write it blocks there, in the middle of its job."""
    with transaction.atomic():
        Order.objects.select_for_update().get(pk=order_id)
        yield


def kill_the_worker_busy_with(redis_url: str, order_id: str) -> None:
    pid = wait_until(
        lambda: busy_worker_pid(redis_url, order_id), timeout=15, message="a worker on the order"
    )
    os.kill(pid, signal.SIGKILL)


def test_a_worker_killed_while_routing_an_order_does_not_lose_it(engines, market, settings):
    engine = engines("worker-kill", MOCK_QUOTE_LATENCY_MS="500", ORDER_STALL_SECONDS="5")
    before = swaps_executed()
    order_id = engine.place({"amount": "1"})["orderId"]
    wait_until(lambda: engine.order(order_id)["status"] == "routing", timeout=10, message="routing")

    with order_row_locked(order_id):
        # The quotes come back; the worker routes, and blocks recording it.
        kill_the_worker_busy_with(settings.REDIS_URL, order_id)

    order = engine.wait_terminal(order_id, timeout=60)
    assert order["status"] == "confirmed"
    statuses = [entry["status"] for entry in order["history"]]
    assert statuses.count("routing") == 1 and statuses.count("confirmed") == 1
    assert swaps_executed() - before == 1
    wait_until(engine.healthy, timeout=15, message="the pool to replace the killed worker")


def test_a_worker_killed_while_settling_swaps_exactly_once(engines, market, settings):
    engine = engines("settle-kill", MOCK_SWAP_LATENCY_MS="500", ORDER_STALL_SECONDS="5")
    before = swaps_executed()
    order_id = engine.place({"amount": "0.3"})["orderId"]
    wait_until(lambda: engine.order(order_id)["status"] == "submitted", timeout=10, message="submitted")

    with order_row_locked(order_id):
        # The transaction lands; the worker swaps, and blocks confirming it.
        # Its swap and its confirmation are one transaction: killed, neither stays.
        kill_the_worker_busy_with(settings.REDIS_URL, order_id)

    order = engine.wait_terminal(order_id, timeout=60)
    assert order["status"] == "confirmed"
    assert [entry["status"] for entry in order["history"]].count("confirmed") == 1
    assert swaps_executed() - before == 1


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

    with engine.worker_pool_replaced() as pool:
        os.killpg(pool.pid, signal.SIGTERM)
        pool.wait(timeout=30)

    finished = [engine.wait_terminal(order_id, timeout=60) for order_id in placed]
    assert [order["status"] for order in finished] == ["confirmed"] * len(placed)


def below(pid: int) -> set[int]:
    """Every process under `pid`, not `pid` itself."""
    return descendants({"root": pid})["root"] - {pid}


def test_a_stopped_worker_hears_its_stop_on_its_main_thread(engine):
    """Stopping the engine sends SIGTERM to the worker pool's group, and the
    pool sends each worker SIGINT on top: whichever thread the kernel gives
    them to, the worker must hear them between jobs (orders/worker.py), so no
    thread but its main one may take them."""
    engine.wait_terminal(engine.place({"amount": "0.1"})["orderId"])  # the workers are at work
    workers = below(engine.processes["worker"].pid)
    assert workers
    threads_seen = 0
    for pid in workers:
        for thread in (int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()):
            blocked = MAIN_THREAD_SIGNALS & blocked_signals(pid, thread)
            if thread == pid:
                assert not blocked, "the main thread must take them"
            else:
                threads_seen += 1
                assert blocked == MAIN_THREAD_SIGNALS, f"thread {thread} of worker {pid} takes them"
    assert threads_seen >= engine.workers  # each worker has rq's listener at least

    with engine.worker_pool_replaced() as pool:
        os.killpg(pool.pid, signal.SIGTERM)
        pool.wait(timeout=10)


def test_the_quote_and_broadcast_threads_leave_the_signals_to_the_main_thread():
    """No job uses them today; one that did must not bring the stop's hang back."""

    def blocked_here() -> set:
        return signal.pthread_sigmask(signal.SIG_BLOCK, [])

    for pool in (routes._quote_pool, broadcast._broadcast_thread()):
        assert MAIN_THREAD_SIGNALS <= pool.submit(blocked_here).result(timeout=5)


def pool_workers(engine: Engine) -> list[Worker]:
    """The registered workers that are this engine's pool's processes."""
    pids = below(engine.processes["worker"].pid)
    return [worker for worker in Worker.all(queue=dispatch.queue()) if worker.pid in pids]


def health_count(engine: Engine) -> int:
    status, body = engine.request("GET", "/api/health")
    assert status == 200
    return body["workers"]


def test_health_stops_counting_a_killed_worker_once_its_registration_lapses(engine):
    """rq keeps a killed worker in its registry until a maintenance pass, 10
    minutes apart; health counts only the workers whose registration is
    current, and it lapses 2 minutes after a worker last renewed it."""
    connection = dispatch.redis()
    wait_until(lambda: len(pool_workers(engine)) == engine.workers, timeout=15, message="the workers")
    workers = pool_workers(engine)
    assert all(0 < connection.ttl(worker.key) <= 120 for worker in workers)
    # Workers that earlier tests killed, whose registrations have not lapsed yet.
    for worker in Worker.all(queue=dispatch.queue()):
        if worker.key not in {mine.key for mine in workers}:
            connection.delete(worker.key)
    assert health_count(engine) == engine.workers

    killed = workers[0]
    os.kill(killed.pid, signal.SIGKILL)

    def replaced() -> bool:
        keys = {worker.key for worker in pool_workers(engine)}
        return killed.key not in keys and len(keys) == engine.workers

    wait_until(replaced, timeout=15, message="the pool to start a worker in its place")
    assert health_count(engine) == engine.workers + 1  # its registration is current
    connection.delete(killed.key)  # what its lapse does
    assert health_count(engine) == engine.workers


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_pool_killed_outright_takes_its_workers_with_it(engine):
    """SIGKILL leaves the pool no time to stop its workers; the kernel tells
    them, and each stops as it would on SIGTERM (orders/worker.py)."""
    wait_until(lambda: len(pool_workers(engine)) == engine.workers, timeout=15, message="the workers")
    with engine.worker_pool_replaced() as pool:
        workers = below(pool.pid)
        assert workers
        os.kill(pool.pid, signal.SIGKILL)
        pool.wait()
        wait_until(
            lambda: not any(running(pid) for pid in workers), timeout=15, message="the workers to stop"
        )
    order = engine.wait_terminal(engine.place({"amount": "0.1"})["orderId"])
    assert order["status"] == "confirmed"


def test_a_worker_whose_registration_redis_lost_registers_again(test_redis):
    """After a Redis restart without its data, rq's heartbeat left a hash of
    one field that the registry no longer listed: health counted 0 workers
    for as long as they ran."""
    queue = dispatch.queue()
    worker = OrderWorker([queue], connection=queue.connection, name=f"lost-{os.getpid()}")
    worker.register_birth()
    try:
        assert worker.key in worker_registration.get_keys(queue)
        # What the restart leaves of it: nothing (a maintenance pass after a
        # lapse leaves the same).
        worker_registration.unregister(worker)
        test_redis.delete(worker.key)
        assert worker.key not in worker_registration.get_keys(queue)

        worker.heartbeat()
        assert worker.key in worker_registration.get_keys(queue)
        assert test_redis.hget(worker.key, "birth") is not None
        assert 0 < test_redis.ttl(worker.key) <= worker.worker_ttl + 60

        worker.heartbeat()  # as it stands: nothing to do again
        assert worker.key in worker_registration.get_keys(queue)
    finally:
        worker.register_death()
        test_redis.delete(worker.key)
