"""/api/health says when no engine clock is running: without one no timer is
released, so no order gets past its quote or its settlement."""

import pytest
from django.test import Client

from orders import dispatch


@pytest.fixture
def no_clock(no_engine):
    dispatch.redis().delete(dispatch.CLOCK_ALIVE_KEY)
    yield
    dispatch.redis().delete(dispatch.CLOCK_ALIVE_KEY)


@pytest.mark.django_db
def test_health_is_503_naming_the_clock_when_none_is_heard_from(no_clock):
    answer = Client().get("/api/health")

    assert answer.status_code == 503
    assert answer.json()["clock"].startswith("down")
    assert "clock" in answer.json()["error"]


@pytest.mark.django_db
def test_a_clock_heard_from_within_its_interval_is_ok(no_clock):
    dispatch.note_the_clock_alive()

    answer = Client().get("/api/health")

    assert answer.json()["clock"] == "ok"
    assert "clock" not in answer.json().get("error", "")
    assert 0 < dispatch.redis().ttl(dispatch.CLOCK_ALIVE_KEY) <= dispatch.CLOCK_ALIVE_SECONDS


def test_a_running_engines_clock_is_heard_from(engine):
    status, health = engine.request("GET", "/api/health")

    assert (status, health["clock"]) == (200, "ok")


@pytest.mark.django_db
def test_health_is_503_naming_the_workers_when_none_is_registered(no_clock):
    # Orders would be accepted, and stay pending.
    dispatch.note_the_clock_alive()

    answer = Client().get("/api/health")

    assert answer.status_code == 503
    assert answer.json()["workers"] == 0
    assert answer.json()["error"] == "Not healthy: workers (none registered) unavailable."
