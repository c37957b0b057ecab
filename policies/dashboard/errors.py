"""The dashboard's error answers that are not a form error, each mapped in one place.

- `bad_request` is Django's 400 handler: it says which parameter was wrong when the dashboard
  knows (`policies.dashboard.params.BadParameter`); under `/api/` it answers JSON (413 for a
  body over `DATA_UPLOAD_MAX_MEMORY_SIZE`).
- `ServiceOutcomeMiddleware`: a write that widens access where approval is needed raises
  `ChangeRequestPending` from whichever service the view called; every dashboard view lets it
  through to here, and the person is taken to the change request that now holds their change
  (HTMX requests by `HX-Redirect`, others by a redirect), with a message saying why it was not
  applied. `NotPermitted` from a service is a 403 (the view's own checks normally come first).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from policies import services
from policies.dashboard.params import BadParameter


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        # API clients get JSON, never the dashboard's page (which names the session's user).
        if isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return JsonResponse(
                {"detail": f"the request body is larger than {limit} bytes"}, status=413
            )
        return JsonResponse({"detail": "bad request"}, status=400)
    # Only the dashboard's own messages are shown: others (e.g. a refused Host header)
    # may describe the server's configuration.
    message = str(exception) if isinstance(exception, BadParameter) else ""
    return render(request, "400.html", {"message": message}, status=400)


class ServiceOutcomeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/") or request.path.startswith("/admin/"):
            return None  # the REST API and the admin map their own errors
        if isinstance(exc, services.ChangeRequestPending):
            url = reverse("dashboard:change-request", args=[exc.change_request.pk])
            messages.info(request, exc.message)
            if request.headers.get("HX-Request") == "true":
                response = HttpResponse(status=204)
                response["HX-Redirect"] = url
                return response
            return HttpResponseRedirect(url)
        if isinstance(exc, services.NotPermitted):
            raise PermissionDenied(exc.message) from exc
        return None
