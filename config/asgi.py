"""Each daphne process (python -m config.web runs several) serves HTTP (Django)
and WebSocket (Channels)."""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before the consumers (and their models) are imported.
django.setup(set_prefix=False)

from pprint import pformat  # noqa: E402

from autobahn.websocket import protocol as websocket_protocol  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from daphne import http_protocol  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from config.http import ThreadPoolASGIHandler  # noqa: E402
from config.origins import BrowserOriginValidator  # noqa: E402
from orders.routing import websocket_urlpatterns  # noqa: E402


def _format_autobahn_debug_lazily() -> None:
    """autobahn (daphne's WebSocket protocol) builds a pprint dump of every
    connection's settings for a debug line, even with debug logging off: 4 %
    of a web process's CPU. Build it only if the line is written."""

    class Deferred:
        def __init__(self, value):
            self.value = value

        def __str__(self) -> str:
            return pformat(self.value)

    websocket_protocol.pformat = Deferred


_format_autobahn_debug_lazily()


def _leave_request_bodies_to_django() -> None:
    """Twisted parses the Content-Type of every POST with the email package,
    to fill in a form dict that daphne never reads (Django gets the body as
    it came and parses it itself): 3 % of a web process's CPU."""

    class WebRequest(http_protocol.WebRequest):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)

    http_protocol.WebRequest = WebRequest


_leave_request_bodies_to_django()


http = ThreadPoolASGIHandler(settings.WEB_THREADS)
application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": BrowserOriginValidator(URLRouter(websocket_urlpatterns), settings.ALLOWED_HOSTS),
    }
)

# What the first requests would do while clients wait: import the views
# (Django reads its URLs at the first request), make the channel layer and
# open each thread's database connection. Cold, a process placed its first
# order in 10-20 ms and opened its first socket in 16, against 3 and 1.5;
# from a standing start at 200 orders/s, POSTs took up to 120 ms for 0.4 s.
get_resolver().url_patterns  # noqa: B018
get_channel_layer()
http.open_connections()

# What was made while starting (Django, the apps, the URL and middleware
# machinery) lives as long as the process: frozen, the garbage collector
# stops walking it on every full collection. POST latency at p99 went from
# 29-54 ms to 18-24 ms at 100 orders/s.
gc.freeze()
