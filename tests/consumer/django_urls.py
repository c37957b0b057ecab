"""URLs of a tiny Django consumer service, for the middleware tests."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from policies.consumer.django import health_view


def items(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"items": [1]})
    response["X-Request-Id"] = "r1"
    response["Vary"] = "Accept-Encoding"
    return response


def private(request: HttpRequest) -> HttpResponse:
    if "HTTP_AUTHORIZATION" not in request.META:
        return JsonResponse({"detail": "unauthorised"}, status=401)
    return JsonResponse({"secret": True})


def own_cors(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"ok": True})
    response["Access-Control-Allow-Origin"] = "*"
    return response


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


urlpatterns = [
    path("api/items", items),
    path("api/private", private),
    path("api/own-cors", own_cors),
    path("api/boom", boom),
    path("health", health_view),
]
