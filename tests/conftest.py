import contextlib
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db.models import Q
from django.utils import timezone

from orders.models import Order
from tests.engine import FAST_MARKET, Engine, wait_until
from tests.halves import sqlite_half_only


@pytest.fixture(scope="session", autouse=True)
def test_redis():
    """The test Redis database, emptied at the start: never a developer's own."""
    if settings.SETTINGS_MODULE != "config.test_settings":
        # DJANGO_SETTINGS_MODULE in the environment wins over pyproject.toml's.
        pytest.exit(
            f"the tests run on config.test_settings, not {settings.SETTINGS_MODULE} "
            "(DJANGO_SETTINGS_MODULE is set): they would empty the engine's own Redis database",
            returncode=4,
        )
    connection = redis.Redis.from_url(settings.REDIS_URL)
    connection.flushdb()
    yield connection


@pytest.fixture(scope="session")
def engines(django_db_setup, django_db_blocker):
    """Start an engine with the given settings, or reuse the running one if it
    has them. One engine runs at a time: two would share the database and
    Redis, and each clock would admit orders by its own ORDER_CONCURRENCY."""
    running: dict[tuple, Engine] = {}

    def start(name: str = "fast", **env) -> Engine:
        key = (name, tuple(sorted(env.items())))
        if key not in running:
            for engine in running.values():
                engine.stop()
            running.clear()
            with django_db_blocker.unblock():
                running[key] = Engine(name, {**FAST_MARKET, **env}).start()
        return running[key]

    def stop_all() -> None:
        for engine in running.values():
            engine.stop()
        running.clear()

    start.stop_all = stop_all
    start.running = lambda: bool(running)
    yield start
    stop_all()


@pytest.fixture
def no_engine(engines, test_redis):
    """No engine runs: orders placed by the test stay as the test left them,
    and no job, timer or wake-up an earlier test left in Redis is waiting
    for the next engine's workers."""
    engines.stop_all()
    test_redis.flushdb()


@pytest.fixture(autouse=True)
def no_engine_behind_the_tests_back(request):
    """A test that commits to the database without asking for an engine must
    not share it with one still running from an earlier test: the engine would
    take its orders up (its clock admits whatever is pending), and on
    PostgreSQL the engine's writes can deadlock with the TRUNCATE that empties
    the tables after the test."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction")
    )
    if transactional and not {"engine", "engines"} & set(request.fixturenames):
        request.getfixturevalue("no_engine")


@pytest.fixture
def market(transactional_db, request):
    """The seeded mock market. Transactional tests empty every table after
    each test, pools included, so each test seeds its own."""
    call_command("seed_market", verbosity=0)
    # Looked up, not asked for: a test that wants the market and no engine
    # must not count as one that wants an engine (no_engine_behind_the_tests_back).
    engines = request.getfixturevalue("engines")
    yield
    if engines.running():
        settle_in_flight_orders()


def settle_in_flight_orders(timeout: float = 20) -> None:
    """Let the running engine finish the orders a test left in flight before
    the tables are emptied: on PostgreSQL, emptying them (TRUNCATE) while a
    worker records a transition can deadlock. Best effort: an order that
    cannot finish (no worker, a far settlement) only costs the timeout."""
    soon = timezone.now() + timedelta(seconds=5)
    moving = Q(status__in=("pending", "routing", "building")) | Q(status="submitted", settles_at__lt=soon)
    with contextlib.suppress(AssertionError):
        wait_until(
            lambda: not Order.objects.filter(moving).exists(), timeout=timeout, message="a quiet engine"
        )


@pytest.fixture
def engine(engines, market):
    """A running engine with a fast mock market; tests see its writes."""
    return engines()


# End-to-end tests about concurrent writers (claims, locks, the concurrency
# cap, a crash mid-write), where PostgreSQL's isolation differs from SQLite's
# single writer: the PostgreSQL half runs these. Every other test through a
# real engine or a browser goes through the same ORM code as the in-process
# tests, which the PostgreSQL half runs; it runs in the SQLite half only, to
# keep make test within 15 minutes on a slow machine (18 with all of them).
CONCURRENT_WRITERS = {
    "test_concurrency_cap.py::test_twenty_five_orders_never_have_more_than_ten_in_flight",
    "test_concurrency_cap.py::test_pending_orders_are_admitted_in_the_order_they_arrived",
    "test_scale_out.py::test_two_instances_share_orders_sockets_and_the_concurrency_cap",
    "test_process_failures.py::test_a_worker_killed_while_settling_swaps_exactly_once",
    "test_limit_orders.py::test_a_cancel_racing_a_trigger_has_exactly_one_winner",
    "test_sniper_orders.py::test_sniper_orders_fill_in_arrival_order_after_a_launch",
    # Not about writers: PostgreSQL's connections, which SQLite has none of.
    "test_database_restart.py::test_orders_placed_after_the_database_dropped_every_connection_are_executed",
}


def pytest_collection_modifyitems(config, items):
    """A test that uses no database (no django_db mark, and no fixture that
    sets the test database up, as every engine does) runs in the SQLite half
    of make test only (tests/halves.py); so does one through a real engine or
    a browser, unless it is about concurrent writers."""
    no_database = sqlite_half_only("uses no database")
    same_orm_code = sqlite_half_only("an end-to-end test through the ORM code the in-process tests cover")
    for item in items:
        if item.get_closest_marker("django_db") is None and "django_db_setup" not in item.fixturenames:
            item.add_marker(no_database)
        elif {"engine", "engines", "page"} & set(item.fixturenames):
            if f"{item.path.name}::{item.originalname}" not in CONCURRENT_WRITERS:
                item.add_marker(same_orm_code)
    items.sort(key=_engine_runs)


def _engine_runs(item) -> int:
    """After pytest-django's order: the tests that commit nothing first (those
    with no database among them), then, of the transactional tests, those
    with no engine, those on the default engine, and those that start
    engines of their own. In file order, an in-process test between two engine tests
    stopped the engine (no_engine_behind_the_tests_back) and the next
    started it again: about 17 starts of the default engine, 3-4 s each."""
    marker = item.get_closest_marker("django_db")
    committed = bool(marker and marker.kwargs.get("transaction"))
    if not committed and "transactional_db" not in item.fixturenames:
        return 0
    if "engine" in item.fixturenames:
        return 2
    return 3 if "engines" in item.fixturenames else 1
