"""Django's HTTP requests run on a few long-lived threads, each keeping its
database connection across requests (config/http.py), instead of a thread
and a connection made for every request, and each request goes to its thread
once."""

import asyncio
import threading

import pytest
from django.core import signals
from django.db import connection
from django.http import JsonResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import path

from config.http import ThreadPoolASGIHandler
from tests.asgi import http_scope

seen: list[tuple[threading.Thread, object]] = []


def where(request):
    connection.ensure_connection()
    # The objects themselves, not their ids: ids of dead ones could be reused.
    seen.append((threading.current_thread(), connection.connection))
    return JsonResponse({"ok": True})


def stream(request):
    return StreamingHttpResponse(iter([b"first ", b"second"]))


urlpatterns = [path("where", where), path("stream", stream)]


async def get(app, url: str) -> int:
    return (await request(app, url))[0]["status"]


async def request(app, url: str) -> list[dict]:
    """The ASGI messages the app sends for a GET of url."""
    scope = http_scope(url)
    sent, body_read = [], False

    async def receive():
        nonlocal body_read
        if not body_read:
            body_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never goes away

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF=__name__)
def test_requests_share_two_threads_and_two_database_connections():
    seen.clear()
    app = ThreadPoolASGIHandler(2)

    async def rounds():
        for _ in range(3):
            assert await asyncio.gather(*(get(app, "/where") for _ in range(4))) == [200] * 4

    asyncio.run(rounds())

    assert len(seen) == 12
    threads = {thread for thread, _ in seen}
    connections = {id(raw) for _, raw in seen}
    assert len(threads) == 2 and all(thread.name.startswith("django-http-") for thread in threads)
    assert len(connections) == 2


@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF=__name__)
def test_each_thread_opens_its_connection_before_the_first_request():
    seen.clear()
    app = ThreadPoolASGIHandler(2)

    assert app.open_connections() == 2

    opened = [executor.submit(lambda: connection.connection).result() for executor in app._executors]
    assert all(raw is not None for raw in opened)
    assert asyncio.run(get(app, "/where")) == 200
    assert any(seen[0][1] is raw for raw in opened)  # the request's thread kept its connection


@pytest.fixture
def signalled(monkeypatch):
    """(signal name, thread, ASGI messages sent so far) for each request_started
    and request_finished, and the calls each Django thread was handed."""
    calls, sent_by_now = [], []

    def started(**kwargs):
        calls.append(("started", threading.current_thread(), len(sent_by_now)))

    def finished(**kwargs):
        calls.append(("finished", threading.current_thread(), len(sent_by_now)))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield calls, sent_by_now
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


def counting_hops(app) -> list[int]:
    hops = [0]
    for executor in app._executors:
        submit = executor.submit

        def counted(*args, _submit=submit, **kwargs):
            hops[0] += 1
            return _submit(*args, **kwargs)

        executor.submit = counted
    return hops


@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF=__name__)
def test_a_request_goes_to_its_thread_once_with_both_signals(signalled):
    calls, _ = signalled
    seen.clear()
    app = ThreadPoolASGIHandler(2)
    hops = counting_hops(app)

    assert asyncio.run(get(app, "/where")) == 200

    assert hops == [1]
    view_thread = seen[0][0]
    assert [(name, thread) for name, thread, _ in calls] == [
        ("started", view_thread),
        ("finished", view_thread),
    ]


@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_a_streaming_response_is_finished_after_its_body_is_sent(signalled):
    calls, sent_by_now = signalled
    app = ThreadPoolASGIHandler(1)

    real_send_response = app.send_response

    async def send_response(response, send):
        async def recording(message):
            sent_by_now.append(message)
            await send(message)

        await real_send_response(response, recording)

    app.send_response = send_response
    sent = asyncio.run(request(app, "/stream"))

    assert sent[0]["status"] == 200
    assert b"".join(message.get("body", b"") for message in sent[1:]) == b"first second"
    assert [name for name, _, _ in calls] == ["started", "finished"]
    assert calls[1][2] == len(sent), "request_finished ran before the body was sent"
