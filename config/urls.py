from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

from orders.admin_views import operators_only
from orders.metrics_view import metrics

# rq's pages empty queues and delete jobs: the admin's login, then operators only.
rq_pages = get_admin_urlpatterns(view_wrapper=lambda view: admin.site.admin_view(operators_only(view)))

urlpatterns = [
    path("api/", include("orders.api.urls")),
    path("admin/rq/", include((get_api_urlpatterns() + rq_pages, "django_rq"))),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    # Traders' own: the admin's login takes staff only.
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("orders.urls")),
]
