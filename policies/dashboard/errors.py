"""The dashboard's 400 page: says which parameter was wrong when the dashboard knows."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from policies.dashboard.params import BadParameter


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Only the dashboard's own messages are shown: others (e.g. a refused Host header)
    # may describe the server's configuration.
    message = str(exception) if isinstance(exception, BadParameter) else ""
    return render(request, "400.html", {"message": message}, status=400)
