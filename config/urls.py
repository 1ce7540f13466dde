from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/", include("orders.api.urls")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("", include("orders.urls")),
]
