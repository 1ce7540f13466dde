"""Django's HTTP requests run on a few long-lived threads, each keeping its
database connection across requests (config/http.py), instead of a thread
and a connection made for every request."""

import asyncio
import threading

import pytest
from django.db import connection
from django.http import JsonResponse
from django.test import override_settings
from django.urls import path

from config.http import ThreadPoolASGIHandler

seen: list[tuple[threading.Thread, object]] = []


def where(request):
    connection.ensure_connection()
    # The objects themselves, not their ids: ids of dead ones could be reused.
    seen.append((threading.current_thread(), connection.connection))
    return JsonResponse({"ok": True})


urlpatterns = [path("where", where)]


async def get(app, url: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
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
    return sent[0]["status"]


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
