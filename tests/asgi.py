"""Calling an ASGI HTTP application directly, as a server would."""

import asyncio


async def request(app, url: str, *, method: str = "GET", body: bytes = b"") -> list[dict]:
    """The ASGI messages the app sends for one request to url."""
    headers = [(b"host", b"testserver")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent, body_read = [], False

    async def receive():
        nonlocal body_read
        if not body_read:
            body_read = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never goes away

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent
