from django.contrib import admin
from django.urls import include, path

from chat.api import api

# /healthz, /readyz and /metrics are answered before URL routing, ahead of the host check
# and the HTTPS redirect: chat.middleware.internal_endpoints.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/", include("accounts.urls")),
    path("api/", api.urls),  # /api/v1/..., documented at /api/docs
    path("", include("chat.urls")),
]
