from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from orders.api import views

urlpatterns = [
    path("orders/execute", views.OrderExecuteView.as_view(), name="order-execute"),
    path("orders", views.OrderListView.as_view(), name="order-list"),
    path("orders/<uuid:order_id>", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<uuid:order_id>/cancel", views.OrderCancelView.as_view(), name="order-cancel"),
    path("quote", views.QuoteView.as_view(), name="quote"),
    path("health", views.HealthView.as_view(), name="health"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]
