from django.contrib import admin
from django.urls import include, path

from orders.metrics_view import metrics

urlpatterns = [
    path("api/", include("orders.api.urls")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("", include("orders.urls")),
]
