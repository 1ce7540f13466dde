"""Which browser pages may open the engine's sockets."""

from urllib.parse import urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier


class BrowserOriginValidator(OriginValidator):
    """AllowedHostsOriginValidator, except that a client sending no Origin
    header is let in: only browsers send one, and only browsers can be tricked
    into connecting from another site. Programs (websocat, Python) send none.

    Where every host name is allowed (`make run` on 0.0.0.0), a browser's
    page must come from the host it connects to: Channels' own would let any
    site a visitor has open place orders through the visitor's browser."""

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin")
        if origin is None or self.origin_allowed(origin.decode("latin1"), headers.get(b"host", b"")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)

    def origin_allowed(self, origin: str, host: bytes) -> bool:
        parsed = urlparse(origin)
        if "*" in self.allowed_origins:
            return bool(parsed.netloc) and parsed.netloc.lower() == host.decode("latin1").lower()
        return self.validate_origin(parsed)
