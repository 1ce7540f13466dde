from channels.auth import AuthMiddlewareStack
from django.urls import path, re_path

from orders import consumers

# Only placing an order asks who the client is (a dashboard login may stand in
# for an API key); the feeds are public, and skip the session lookup.
websocket_urlpatterns = [
    path("ws/orders", consumers.OrdersFeedConsumer.as_asgi()),
    # Anything after the slash: what is no order id (a trailing slash, a
    # second segment) closes with 4404, as the contract says.
    re_path(r"^ws/orders/(?P<order_id>.+)$", consumers.OrderStreamConsumer.as_asgi()),
    path("api/orders/execute", AuthMiddlewareStack(consumers.OrderPlacementConsumer.as_asgi())),
    # Channels' router answers a path no route takes with an exception, and
    # daphne the handshake with a 500.
    re_path(r"", consumers.NoSuchFeed.as_asgi()),
]
