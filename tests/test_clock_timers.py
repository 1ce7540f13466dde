"""The clock waits for the next timer instead of looking every tick: it
sleeps until a timer comes due, and a timer set meanwhile wakes it."""

import threading
import time

import pytest

from orders import dispatch


@pytest.fixture
def no_timers(test_redis, no_engine):
    """An empty timer set, no wake-up left from an earlier test, and no
    engine whose clock would take the wake-ups."""
    connection = dispatch.redis()
    connection.delete(dispatch.TIMERS_KEY, dispatch.TIMERS_ADDED_KEY)
    yield connection
    connection.delete(dispatch.TIMERS_KEY, dispatch.TIMERS_ADDED_KEY)


def test_a_timer_set_meanwhile_wakes_a_waiting_clock(no_timers):
    due = time.time() + 60
    setter = threading.Timer(0.2, dispatch.enqueue_at, ("advance_orders", {"order-1": due}))
    setter.start()
    try:
        # Woken by the new timer before the wait would have ended (the
        # connection's socket timeout is 5 s).
        assert dispatch.wait_for_timers(4) is True
    finally:
        setter.cancel()
    assert dispatch.next_timer_due() == pytest.approx(due)
    # The wake-up was taken: it will not end the next wait.
    assert no_timers.llen(dispatch.TIMERS_ADDED_KEY) == 0


def test_wakeups_do_not_pile_up_while_the_clock_is_busy(no_timers):
    for number in range(5):
        dispatch.enqueue_at("advance_orders", {f"order-{number}": time.time() + 60})
    assert no_timers.llen(dispatch.TIMERS_ADDED_KEY) == 1
    assert dispatch.wait_for_timers(1) is True
    assert no_timers.llen(dispatch.TIMERS_ADDED_KEY) == 0


def test_the_next_timer_due_is_the_earliest_one(no_timers):
    assert dispatch.next_timer_due() is None
    now = time.time()
    dispatch.enqueue_at("advance_orders", {"later": now + 90, "sooner": now + 30})
    assert dispatch.next_timer_due() == pytest.approx(now + 30)


def test_a_wait_ends_in_time_for_the_earliest_timer(no_timers):
    """Redis may time a blocked wait out up to 1/hz late (100 ms by default),
    so with a timer due within the margin the clock does not block at all,
    and looks again after a tick. The wake-up left in the list shows that no
    BLPOP took it."""
    dispatch.enqueue_at("advance_orders", {"order-1": time.time() + dispatch.BLOCK_MARGIN})
    assert dispatch.wait_for_timers(30) is False
    assert no_timers.llen(dispatch.TIMERS_ADDED_KEY) == 1


def test_a_wait_too_short_to_matter_returns_at_once(no_timers):
    dispatch.enqueue_at("advance_orders", {"order-1": time.time() + 60})
    # BLPOP with a timeout of 0 would block for ever.
    for seconds in (0, -1):
        assert dispatch.wait_for_timers(seconds) is False
    assert no_timers.llen(dispatch.TIMERS_ADDED_KEY) == 1


def test_a_wait_stays_inside_the_connections_socket_timeout(no_timers, monkeypatch):
    """A wait as long as the socket timeout would fail with a timeout error."""
    kwargs = dispatch.redis().connection_pool.connection_kwargs
    # Too short for any wait inside it: the wake-up stays where it is.
    monkeypatch.setitem(kwargs, "socket_timeout", dispatch.BLOCK_MARGIN + 0.005)
    dispatch.enqueue_at("advance_orders", {"order-1": time.time() + 60})
    assert dispatch.wait_for_timers(30) is False
    assert no_timers.llen(dispatch.TIMERS_ADDED_KEY) == 1
