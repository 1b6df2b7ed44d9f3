from django.contrib import admin
from django.urls import include, path

# /healthz, /readyz and /metrics are answered before URL routing, ahead of the host check
# and the HTTPS redirect: chat.middleware.internal_endpoints.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/", include("accounts.urls")),
    path("", include("chat.urls")),
]
