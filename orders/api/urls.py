from django.urls import path

from orders.api import views

urlpatterns = [
    path("orders/execute", views.OrderExecuteView.as_view(), name="order-execute"),
    path("orders", views.OrderListView.as_view(), name="order-list"),
    path("orders/<uuid:order_id>", views.OrderDetailView.as_view(), name="order-detail"),
    path("quote", views.QuoteView.as_view(), name="quote"),
    path("health", views.HealthView.as_view(), name="health"),
]
