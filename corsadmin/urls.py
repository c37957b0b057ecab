from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/webhooks/", include("webhooks.api.urls")),
    path("api/", include("policies.api.urls")),
    path("webhooks/", include("webhooks.dashboard.urls")),
    path("", include("policies.dashboard.urls")),
]

# A malformed dashboard parameter is a 400 that names it (policies/dashboard/params.py).
handler400 = "policies.dashboard.errors.bad_request"
