from django.contrib import admin
from django.urls import include, path

from chat.views import healthz, metrics_page, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_page, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("chat.urls")),
]
