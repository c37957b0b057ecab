"""Django middleware: a drop-in replacement for ``corsheaders.middleware.CorsMiddleware``.

    MIDDLEWARE = [..., "policies.consumer.django.CorsMiddleware", ...]  # where corsheaders' was
    CORSADMIN_URL = "https://corsadmin.internal"
    CORSADMIN_TOKEN = env("CORSADMIN_TOKEN")
    CORSADMIN_APIS = ["billing"]

Settings (design.md "Consumer configuration"): ``CORSADMIN_URL``, ``CORSADMIN_TOKEN``,
``CORSADMIN_APIS``, ``CORSADMIN_REDIS_URL``, ``CORSADMIN_INTERVAL``,
``CORSADMIN_BOOTSTRAP_FILE``, ``CORSADMIN_CACHE_FILE`` (and ``CORSADMIN_TIMEOUT``,
``CORSADMIN_SERVICE``, ``CORSADMIN_TELEMETRY_INTERVAL``). Behaviour as the WSGI
middleware; in ``report-only`` mode the response keeps what the service's
django-cors-headers settings give (its middleware runs as the local fallback, when
installed) while what central would refuse is reported.
``health_view`` serves ``client.health()`` as JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase

from policies.consumer._http import CORS_RESPONSE_HEADERS, from_environ, host_from_environ
from policies.consumer.client import DEFAULT_REDIS_PREFIX, ConfigurationError, PolicyClient
from policies.cors import merge_vary

__all__ = ["CorsMiddleware", "client_from_settings", "health_view"]

logger = logging.getLogger("policies.consumer")

GetResponse = Callable[[HttpRequest], HttpResponseBase]

_clients: dict[tuple[Any, ...], PolicyClient] = {}


def client_from_settings() -> PolicyClient:
    """The process's client for the current CORSADMIN_* settings (one per configuration)."""
    config = (
        getattr(settings, "CORSADMIN_URL", None),
        getattr(settings, "CORSADMIN_TOKEN", None),
        _apis(getattr(settings, "CORSADMIN_APIS", None)),
        getattr(settings, "CORSADMIN_REDIS_URL", None),
        getattr(settings, "CORSADMIN_REDIS_PREFIX", DEFAULT_REDIS_PREFIX),
        float(getattr(settings, "CORSADMIN_INTERVAL", 30)),
        getattr(settings, "CORSADMIN_BOOTSTRAP_FILE", None),
        getattr(settings, "CORSADMIN_CACHE_FILE", None),
        float(getattr(settings, "CORSADMIN_TIMEOUT", 2.0)),
        getattr(settings, "CORSADMIN_SERVICE", None),
        float(getattr(settings, "CORSADMIN_TELEMETRY_INTERVAL", 60)),
    )
    client = _clients.get(config)
    if client is None:
        url, token, apis, redis_url, prefix, interval, bootstrap, cache, timeout, service, every = (
            config
        )
        try:
            client = PolicyClient(
                url,
                token,
                apis,
                redis_url=redis_url,
                redis_prefix=prefix,
                interval=interval,
                bootstrap_file=bootstrap,
                cache_file=cache,
                timeout=timeout,
                service=service,
                telemetry_interval=every,
            )
        except ConfigurationError as exc:
            raise ImproperlyConfigured(f"CORSADMIN_{exc}") from exc
        _clients[config] = client
    return client


def _apis(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    return tuple(str(slug).strip() for slug in value or () if str(slug).strip())


def _fallback(get_response: GetResponse) -> GetResponse:
    """django-cors-headers' middleware over ``get_response`` when installed, else nothing."""
    try:
        from corsheaders.middleware import CorsMiddleware as CorsHeadersMiddleware
    except ImportError:
        return get_response
    middleware = CorsHeadersMiddleware(get_response)

    def with_corsheaders(request: HttpRequest) -> HttpResponseBase:
        response = middleware(request)
        assert isinstance(response, HttpResponseBase)  # sync get_response: sync answer
        return response

    return with_corsheaders


def apply(response: HttpResponseBase, cors: dict[str, str]) -> None:
    """Make ``cors`` the response's only CORS headers; merge ``Vary``."""
    for name in CORS_RESPONSE_HEADERS:
        if name in response:
            del response[name]
    for name, value in cors.items():
        if name != "Vary":
            response[name] = value
    vary = merge_vary(response.get("Vary"), cors.get("Vary", ""))
    if vary:
        response["Vary"] = vary


class CorsMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.client = client_from_settings()
        self.report_only_response = _fallback(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        result = self.client.decide(
            request.method or "GET",
            request.path_info,
            from_environ(request.META),
            scheme=request.scheme or "http",
            host=host_from_environ(request.META),
        )
        if result is None or not result[0].applies:
            return self.get_response(request)
        decision = result[0]
        if decision.mode == "report-only":
            return self.report_only_response(request)
        if decision.mode != "enforce":
            return self.get_response(request)
        if decision.preflight:
            response: HttpResponseBase = HttpResponse(status=decision.status or 403)
            response["Content-Length"] = "0"
        else:
            response = self.get_response(request)
        apply(response, decision.headers)
        return response


def health_view(request: HttpRequest) -> JsonResponse:
    """The client's health as JSON: 200 when every API is fresh, else 503."""
    health = client_from_settings().health()
    return JsonResponse(health, status=200 if health["ok"] else 503)
