from channels.auth import AuthMiddlewareStack
from django.urls import path, re_path

from orders import consumers

# Only placing an order asks who the client is (a dashboard login may stand in
# for an API key); the feeds are public, and skip the session lookup.
websocket_urlpatterns = [
    path("ws/orders", consumers.OrdersFeedConsumer.as_asgi()),
    re_path(r"^ws/orders/(?P<order_id>[^/]+)$", consumers.OrderStreamConsumer.as_asgi()),
    path("api/orders/execute", AuthMiddlewareStack(consumers.OrderPlacementConsumer.as_asgi())),
]
