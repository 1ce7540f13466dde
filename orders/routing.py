from django.urls import path, re_path

from orders import consumers

websocket_urlpatterns = [
    path("ws/orders", consumers.OrdersFeedConsumer.as_asgi()),
    re_path(r"^ws/orders/(?P<order_id>[^/]+)$", consumers.OrderStreamConsumer.as_asgi()),
    path("api/orders/execute", consumers.OrderPlacementConsumer.as_asgi()),
]
