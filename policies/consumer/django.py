"""Django middleware: a drop-in replacement for ``corsheaders.middleware.CorsMiddleware``.

    INSTALLED_APPS = [..., "policies.consumer", ...]            # the system checks
    MIDDLEWARE = [..., "policies.consumer.django.CorsMiddleware", ...]  # where corsheaders' was
    CORSADMIN_URL = "https://corsadmin.internal"
    CORSADMIN_TOKEN = env("CORSADMIN_TOKEN")
    CORSADMIN_APIS = ["billing"]
    CORSADMIN_PUBLIC_KEYS = BASE_DIR / "corsadmin-keys.json"

Settings: every ``CORSADMIN_*`` name of ``policies.consumer.config.SETTINGS``. Behaviour as
the WSGI middleware; in ``report-only`` the response is what the service's
django-cors-headers settings give (its middleware runs here as the local answer, when
installed) and what central would refuse is reported. Paths are matched as
``request.path_info``, inside the mount point (``SCRIPT_NAME`` / ``FORCE_SCRIPT_NAME``).
``CORSADMIN_HEALTH_PATH`` (or ``health_view`` in a URLconf) serves ``health()`` as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings as django_settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from policies.consumer.client import PolicyClient
from policies.consumer.config import ConfigurationError, Settings, setting_name
from policies.consumer.core import ADD, ANSWER, CORS_RESPONSE_HEADERS, Outcome, merged_vary
from policies.consumer.wsgi import host_from_environ

__all__ = ["CorsMiddleware", "client_from_settings", "health_view"]

GetResponse = Callable[[HttpRequest], HttpResponseBase]

_clients: dict[str, PolicyClient] = {}


def _lookup(name: str, default: Any) -> Any:
    return getattr(django_settings, name, default)


def client_from_settings() -> PolicyClient:
    """The process's client for the current ``CORSADMIN_*`` settings (one per configuration);
    ``ImproperlyConfigured`` naming the setting when they cannot work."""
    try:
        settings = Settings.from_lookup(_lookup)
        key = repr(settings)
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = PolicyClient(settings)
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"{setting_name(exc.setting)}: {exc.detail}") from exc
    return client


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


def _apply(response: HttpResponseBase, outcome: Outcome) -> None:
    """Make the outcome's headers the response's only CORS headers; merge ``Vary``."""
    store: dict[str, tuple[str, str]] = response.headers._store
    # Written into Django's header store directly: the values come from the engine (a
    # canonical origin, validated names), so Django's per-header re-validation is skipped.
    if not CORS_RESPONSE_HEADERS.isdisjoint(store):
        for name in CORS_RESPONSE_HEADERS:
            store.pop(name, None)
    store.update(outcome.store)
    if outcome.vary:
        vary = store.get("vary")
        store["vary"] = (
            "Vary",
            outcome.vary if vary is None else merged_vary(vary[1], outcome.vary),
        )


def _health(client: PolicyClient) -> HttpResponse:
    status, body = client.health_json()
    return HttpResponse(body, status=status, content_type="application/json")


class CorsMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.client = client_from_settings()
        self.health_path = self.client.health_path
        self.report_only_response = _fallback(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if path == self.health_path:
            return _health(self.client)
        meta = request.META
        outcome = self.client.outcome(
            request.method or "GET",
            path,
            meta.get("HTTP_ORIGIN"),
            meta.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
            meta.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
            meta.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"),
            scheme=request.scheme or "http",
            host=meta.get("HTTP_HOST") or host_from_environ(meta),
        )
        if outcome is None:
            return self.get_response(request)
        if outcome.action == ADD:
            response = self.get_response(request)
        elif outcome.action == ANSWER:
            response = HttpResponse(status=outcome.status)
            response.headers._store["content-length"] = ("Content-Length", "0")
        elif outcome.decision.mode == "report-only":
            return self.report_only_response(request)
        else:
            return self.get_response(request)
        _apply(response, outcome)
        return response


def health_view(request: HttpRequest) -> HttpResponse:
    """The client's health as JSON: 200 when every API is fresh, else 503."""
    return _health(client_from_settings())


# The system checks also run when only the middleware is used (no INSTALLED_APPS entry).
from policies.consumer import checks as _checks  # noqa: E402

checks.register(_checks.check_settings, checks.Tags.security)
