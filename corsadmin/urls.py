from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic.base import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Browsers ask for /favicon.ico whatever the page says.
    path("favicon.ico", RedirectView.as_view(url=static("dashboard/favicon.svg"), permanent=True)),
    path("api/v1/webhooks/", include("webhooks.api.urls")),
    path("api/", include("policies.api.urls")),
    path("webhooks/", include("webhooks.dashboard.urls")),
    path("", include("policies.dashboard.urls")),
]

# A malformed dashboard parameter is a 400 that names it (policies/dashboard/params.py).
handler400 = "policies.dashboard.errors.bad_request"
