from django.urls import path

from orders import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("orders/<uuid:order_id>", views.order_page, name="order-page"),
    path("market.json", views.market_json, name="market-json"),
]
