from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from orders import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("orders/<uuid:order_id>", views.order_page, name="order-page"),
    path("orders/<uuid:order_id>/cancel", views.order_cancel, name="order-page-cancel"),
    path("market.json", views.market_json, name="market-json"),
    # Browsers ask for /favicon.ico on every page, the admin's too.
    path("favicon.ico", RedirectView.as_view(url=static("orders/favicon.svg"), permanent=True)),
]
