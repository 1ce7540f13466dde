"""A request body sent in chunks (Transfer-Encoding: chunked, no
Content-Length), as HTTP clients do when they stream a body, is read like
any other: the order is placed, and one too large is refused with 413."""

import http.client
import json
from urllib.parse import urlsplit


def post_chunked(engine, chunks: list[bytes]) -> tuple[int, dict]:
    where = urlsplit(engine.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/orders/execute",
            body=iter(chunks),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_a_chunked_order_is_placed(engine):
    status, body = post_chunked(engine, [b'{"amount": ', b'"1.5", "tokenIn": "SOL"', b"}"])

    assert status == 202, body
    assert engine.order(body["orderId"])["amount"] == "1.5"


def test_a_chunked_body_over_the_limit_is_a_413(engine):
    status, body = post_chunked(engine, [b'{"amount": "1", "pad": "', b"x" * 70_000, b'"}'])

    assert status == 413
    assert "larger than" in body["error"]
