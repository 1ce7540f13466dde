"""Input no client should send still gets a JSON 4xx naming what is wrong,
never a 500, and leaves a placement socket usable."""

import asyncio
import json

import pytest
import websockets
from django.test import Client

from config.http import ThreadPoolASGIHandler
from orders.models import Order
from tests.asgi import http_scope


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cursor",
    [
        "cD1ub3Q=",  # p=not
        "not base64 at all",
        "cD0yMDI2LTEzLTQw",  # p=2026-13-40
        "cD0wMDAxLTAxLTAxVDAwOjAwOjAwKzAxOjAw",  # p=0001-01-01T00:00:00+01:00: before year 1 in UTC
    ],
)
def test_an_edited_page_cursor_is_a_404_not_a_500(cursor):
    answer = Client().get("/api/orders", {"cursor": cursor})

    assert answer.status_code == 404
    assert answer.json()["error"] == "Invalid cursor"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 3000,  # deeper than the JSON decoder recurses
        b'{"amount": 1, "x": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    ],
)
def test_json_nested_too_deeply_is_a_400(raw):
    answer = Client().post("/api/orders/execute", raw, content_type="application/json")

    assert answer.status_code == 400
    assert "nested too deeply" in answer.json()["error"]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_field_name_with_a_lone_surrogate_is_named_in_a_400():
    body = '{"amount": 1, "\\ud800": 1}'  # valid JSON; "\ud800" alone is no character

    answer = Client().post("/api/orders/execute", body, content_type="application/json")

    assert answer.status_code == 400
    assert answer.json()["fields"] == {"\\ud800": ["is not a field of an order"]}


@pytest.mark.django_db
def test_a_quote_the_dexes_do_not_answer_says_when_to_ask_again(market, settings):
    settings.MOCK_FAILURE_RATE = 1.0

    answer = Client().get("/api/quote", {"amount": "1"})

    assert answer.status_code == 503
    assert answer["Retry-After"] == "1"
    assert answer.json()["errorCode"] == "dex_unavailable" and "simulated outage" in answer.json()["error"]


def test_a_placement_socket_survives_json_nested_too_deeply(engine):
    async def exchange() -> list[dict]:
        async with asyncio.timeout(20):
            async with websockets.connect(f"{engine.ws}/api/orders/execute") as socket:
                await socket.send("[" * 3000)
                refused = json.loads(await socket.recv())
                await socket.send(json.dumps({"amount": "0.01"}))
                return [refused, json.loads(await socket.recv())]

    refused, accepted = asyncio.run(exchange())

    assert refused["type"] == "error" and "nested too deeply" in refused["error"]
    assert accepted["type"] == "accepted"


@pytest.mark.django_db
@pytest.mark.parametrize("charset", ["rot13", "hex", "zlib"])
def test_a_charset_that_is_no_text_encoding_is_a_415(charset):
    # Python knows each as a codec, so Django accepts it; decoding with it fails.
    answer = Client().generic(
        "POST", "/api/orders/execute", b'{"amount": 1}', content_type=f"application/json; charset={charset}"
    )

    assert answer.status_code == 415
    error = answer.json()["error"]
    assert error == f"The request body's charset '{charset}' is not a text encoding; send UTF-8."
    assert not Order.objects.exists()


def asgi_request(path: str, *, headers=(), query_string=b"", body=b"") -> tuple[int, str, bytes]:
    """What the engine's own HTTP handler answers: (status, content type, body)."""
    scope = http_scope(path, method="POST", headers=headers, query_string=query_string)
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(ThreadPoolASGIHandler(1)(scope, receive, send))
    start = sent[0]
    content_type = dict(start["headers"]).get(b"Content-Type", b"").decode()
    return start["status"], content_type, b"".join(message.get("body", b"") for message in sent[1:])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "content_type",
    [
        b"application/json; x*=nope''a",  # RFC 2231, a charset Python does not know
        b"application/json; charset*=utf-7''%2B2AA-",  # decodes to a lone surrogate
    ],
)
def test_a_content_type_whose_parameters_cannot_be_read_is_a_json_400(content_type):
    status, answer_type, body = asgi_request(
        "/api/orders/execute", headers=[(b"content-type", content_type)], body=b'{"amount": 1}'
    )

    assert (status, answer_type) == (400, "application/json")
    assert json.loads(body)["error"].startswith("The Content-Type header cannot be read")
    assert not Order.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_query_string_that_is_not_utf8_is_a_json_400():
    status, answer_type, body = asgi_request("/api/orders/execute", query_string=b"tokenIn=S%FFL&x=\xff")

    assert (status, answer_type) == (400, "application/json")
    assert "query string" in json.loads(body)["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["xml", "api", "json"])
def test_a_format_query_parameter_is_ignored(value):
    answer = Client().get("/api/orders", {"format": value})

    assert answer.status_code == 200
    assert answer.json()["results"] == []


@pytest.mark.django_db
def test_the_schema_still_comes_as_json_when_asked_by_format():
    answer = Client().get("/api/schema", {"format": "json"})

    assert answer.status_code == 200
    assert answer.json()["openapi"].startswith("3.")
