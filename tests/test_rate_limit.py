"""The placement rate limit: a sliding minute per client address, counted in
(real) Redis. The clock is the one thing faked: windows are minutes long."""

import json

import pytest
from django.core.cache import cache
from django.test import Client

from orders.api import throttling
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

# The start of some minute-long window.
WINDOW_START = 1_800_000_000.0 - 1_800_000_000.0 % throttling.WINDOW_SECONDS


@pytest.fixture(autouse=True)
def fresh_budget(no_engine):
    cache.clear()  # the test Redis database only


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = WINDOW_START + 1

    monkeypatch.setattr(throttling, "_now", lambda: Clock.now)
    return Clock


def place(address: str = "10.0.0.1"):
    answer = Client(REMOTE_ADDR=address).post(
        "/api/orders/execute", json.dumps({"amount": "1"}), content_type="application/json"
    )
    return answer


def statuses(count: int, address: str = "10.0.0.1") -> list[int]:
    return [place(address).status_code for _ in range(count)]


def place_from_the_dashboard(address: str = "10.0.0.1"):
    form = {"amount": "1", "tokenIn": "SOL", "tokenOut": "USDC", "slippage": "50", "slippageUnit": "bps"}
    return Client(REMOTE_ADDR=address).post("/", form)


def assert_let_in_after_exactly(wait: int, clock) -> None:
    clock.now += wait - 1
    assert statuses(1) == [429], "let in before the Retry-After it was given"
    clock.now += 1
    assert statuses(1) == [202], "still refused after the Retry-After it was given"


def test_refused_placements_do_not_count_against_the_budget(settings, clock):
    settings.RATE_LIMIT_PER_MINUTE = 2
    assert statuses(5) == [202, 202, 429, 429, 429]

    clock.now = WINDOW_START + throttling.WINDOW_SECONDS * 1.5
    # Half of last minute's window still overlaps: 2 * 0.5 counted, 1 to spare.
    assert statuses(2) == [202, 429]
    assert Order.objects.count() == 3


def test_the_retry_after_it_answers_is_when_the_next_placement_fits(settings, clock):
    settings.RATE_LIMIT_PER_MINUTE = 4
    assert statuses(4) == [202] * 4
    clock.now = WINDOW_START + throttling.WINDOW_SECONDS + 10

    refused = place()
    assert refused.status_code == 429
    wait = int(refused["Retry-After"])
    assert f"try again in {wait} seconds" in refused.json()["error"]
    assert_let_in_after_exactly(wait, clock)


def test_a_client_that_filled_its_window_waits_for_it_to_weigh_less(settings, clock):
    settings.RATE_LIMIT_PER_MINUTE = 2
    assert statuses(3) == [202, 202, 429]
    wait = int(place()["Retry-After"])
    # The window ends in 59 s; then its 2 placements weigh 2 * (1 - t / 60) and
    # one more fits from t = 30 s: 89 s in all.
    assert wait == 89
    assert_let_in_after_exactly(wait, clock)


def test_the_dashboard_form_counts_against_the_same_budget(settings, clock, market):
    settings.RATE_LIMIT_PER_MINUTE = 2
    assert statuses(1) == [202]
    assert place_from_the_dashboard().status_code == 302

    refused = place_from_the_dashboard()

    assert refused.status_code == 429
    assert refused["Retry-After"] == "89"
    assert refused.context["errors"] == {"non_field_errors": ["Too many orders; try again in 89 seconds."]}
    assert statuses(1) == [429]
    assert Order.objects.count() == 2


def test_each_client_address_has_a_budget_of_its_own(settings, clock):
    settings.RATE_LIMIT_PER_MINUTE = 1
    assert statuses(2, "10.0.0.1") == [202, 429]
    assert statuses(2, "10.0.0.2") == [202, 429]


def placed_through(forwarded_for: str, peer: str = "10.0.0.9") -> int:
    return (
        Client(REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded_for)
        .post("/api/orders/execute", json.dumps({"amount": "1"}), content_type="application/json")
        .status_code
    )


def test_a_client_cannot_make_itself_a_new_budget_with_x_forwarded_for(settings, clock):
    settings.RATE_LIMIT_PER_MINUTE = 1
    assert [placed_through(f"192.0.2.{n}") for n in range(3)] == [202, 429, 429]


def test_behind_a_trusted_proxy_the_address_it_saw_has_the_budget(settings, clock):
    settings.RATE_LIMIT_PER_MINUTE, settings.TRUSTED_PROXIES = 1, 1
    # The proxy appends the address it took the request from; what comes before is the client's.
    assert [placed_through(f"192.0.2.{n}, 203.0.113.7") for n in range(2)] == [202, 429]
    assert placed_through("203.0.113.8") == 202


@pytest.mark.parametrize(
    ("this", "last", "elapsed", "expected"),
    [
        (10, 0, 20.0, 46.0),  # this window is full: until it ends, then 10 % of the next
        (5, 10, 0.0, 36.0),  # last window's 10 must weigh at most 4: 40 % of it left
        (5, 10, 50.0, 0.0),  # it already does
    ],
)
def test_retry_after(this, last, elapsed, expected):
    assert throttling.retry_after(10, this, last, elapsed) == pytest.approx(expected)


def test_a_wrong_method_is_a_405_and_spends_nothing_of_the_budget(settings, clock):
    settings.RATE_LIMIT_PER_MINUTE = 1
    settings.API_KEYS_REQUIRED = True
    client = Client(REMOTE_ADDR="10.0.0.1")

    assert client.get("/api/orders/execute").status_code == 405
    assert client.put("/api/orders/execute").status_code == 405
    assert client.delete("/api/orders").status_code == 405  # not a 401 for want of a key

    settings.API_KEYS_REQUIRED = False
    assert statuses(2) == [202, 429]


def test_quotes_have_a_budget_of_their_own(settings, clock, market):
    # Each quote holds a web thread for the DEXes' latency: without a limit,
    # one client asking without pause held every thread of the engine.
    settings.QUOTE_RATE_LIMIT_PER_MINUTE = 2
    settings.MOCK_QUOTE_LATENCY_MS = (0, 0)
    quoter = Client(REMOTE_ADDR="10.0.0.1")

    answers = [quoter.get("/api/quote", {"amount": "1"}), quoter.head("/api/quote", {"amount": "1"})]
    answers.append(quoter.get("/api/quote", {"amount": "1"}))

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    wait = answers[-1]["Retry-After"]
    assert answers[-1].json()["error"] == f"Too many quotes; try again in {wait} seconds."
    assert statuses(1) == [202], "placements are counted apart"
    assert Client(REMOTE_ADDR="10.0.0.2").get("/api/quote", {"amount": "1"}).status_code == 200
