"""Who is acting, from where: captured once per request so services can audit it."""

from __future__ import annotations

import contextvars
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from django.http import HttpRequest, HttpResponse

# One line per request served (gunicorn's own access log is off: it would print query
# strings, where a careless client may put a token). See corsadmin/logs.py.
access_log = structlog.get_logger("policies.access")


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    ip: str | None
    user_agent: str


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "corsadmin_request_context", default=None
)


def current() -> RequestContext | None:
    return _current.get()


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is attacker-controlled unless a trusted proxy
    # rewrites it, and an audit log must not record a spoofed address.
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else ""
        context = RequestContext(
            request_id=request_id or uuid.uuid4().hex,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:512],
        )
        token = _current.set(context)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            status = response.status_code
            # The path only: a query string may carry anything, secrets included.
            (access_log.warning if status >= 500 else access_log.info)(
                "request",
                method=request.method,
                path=request.path,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                ip=context.ip,
            )
        finally:
            _current.reset(token)
        response["X-Request-Id"] = context.request_id
        return response
