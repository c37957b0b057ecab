"""A one-file Django service governed by corsadmin: `python examples/django_service/app.py`.

Environment: CORSADMIN_URL, CORSADMIN_TOKEN, CORSADMIN_APIS, CORSADMIN_PUBLIC_KEYS and any
other CORSADMIN_* setting (examples/README.md; each becomes the Django setting of the same
name), PORT (default 5003). `policies.consumer.django.CorsMiddleware` sits where
`corsheaders.middleware.CorsMiddleware` was; the service's old django-cors-headers settings
stay, as the answer while the API's policy is in report-only mode.
"""

from __future__ import annotations

import json
import os
import sys
import uuid

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("SECRET_KEY", "example-only-" + uuid.uuid4().hex),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "policies.consumer.django.CorsMiddleware",  # was corsheaders.middleware.CorsMiddleware
        "django.middleware.common.CommonMiddleware",
    ],
    INSTALLED_APPS=["policies.consumer"],  # the consumer's system checks
    # Every CORSADMIN_* variable as the setting of the same name (strings are parsed:
    # CORSADMIN_APIS=a,b, CORSADMIN_INTERVAL=30, CORSADMIN_VERIFY_SIGNATURES=false).
    **{name: value for name, value in os.environ.items() if name.startswith("CORSADMIN_")},
    # The previous django-cors-headers configuration (report-only fallback).
    CORS_ALLOWED_ORIGINS=[o for o in os.environ.get("CORS_ALLOWED_ORIGINS", "").split(",") if o],
    CORS_URLS_REGEX=r"^/api/",
    LOGGING={
        "version": 1,
        # The consumer logs (applied versions, refusals, fallbacks) must stay on: its
        # logger exists before Django configures logging.
        "disable_existing_loggers": False,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "root": {"handlers": ["console"], "level": "INFO"},
    },
)

from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from policies.consumer.django import health_view  # noqa: E402


def _json(data: object, status: int = 200) -> HttpResponse:
    response = JsonResponse(data, status=status, safe=False)
    response["X-Request-Id"] = uuid.uuid4().hex  # exposed by the policy
    return response


@csrf_exempt
def items(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _json({"service": "django", "created": json.loads(request.body or b"null")}, 201)
    return _json({"service": "django", "items": ["apple", "pear"]})


def me(request: HttpRequest) -> HttpResponse:
    return _json({"service": "django", "user": request.COOKIES.get("session", "anonymous")})


urlpatterns = [
    path("api/items", items),
    path("api/me", me),
    path("health", health_view),
]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    port = os.environ.get("PORT", "5003")
    execute_from_command_line([sys.argv[0], "runserver", f"127.0.0.1:{port}", "--noreload"])
