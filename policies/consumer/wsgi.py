"""WSGI middleware (Flask, any WSGI application): translates to and from the client.

    app.wsgi_app = CorsMiddleware(app.wsgi_app, url=..., token=..., apis=["billing"])

A preflight on a covered path is answered here (no auth, no redirect); any other response of
a covered path, errors included, gets exactly the policy's CORS headers (the application's
or a wrapped flask-cors's are replaced, ``Vary`` merged); an exception escaping before the
response started becomes a 500 carrying them. ``report-only``, ``off`` and uncovered paths:
the response is the application's, untouched. Paths are matched as ``PATH_INFO``, inside the
mount point (``SCRIPT_NAME``). No Django import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Unpack

from policies.consumer.client import PolicyClient, client_for
from policies.consumer.config import ClientOptions, Settings
from policies.consumer.core import ADD, ANSWER, merge_str_headers

__all__ = ["CorsMiddleware", "host_from_environ"]

logger = logging.getLogger("policies.consumer")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_ERROR = b"Internal Server Error"


def host_from_environ(environ: Mapping[str, object]) -> str | None:
    """The request's host (and port) from a WSGI environ or Django's ``request.META``."""
    host = environ.get("HTTP_HOST")
    if host:
        return str(host)
    name, port = environ.get("SERVER_NAME"), environ.get("SERVER_PORT")
    if not name:
        return None
    return f"{name}:{port}" if port else str(name)


class CorsMiddleware:
    """Wraps a WSGI application; keywords as in design.md, or ``settings=`` / ``client=``."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        client: PolicyClient | None = None,
        settings: Settings | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.app = app
        self.client = client_for(client, settings, options)
        self.health_path = self.client.health_path

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == self.health_path:
            status, body = self.client.health_json()
            start_response(
                "200 OK" if status == 200 else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        get = environ.get
        outcome = self.client.outcome(
            get("REQUEST_METHOD", "GET"),
            path,
            get("HTTP_ORIGIN"),
            get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
            get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
            get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"),
            scheme=get("wsgi.url_scheme", "http"),
            host=get("HTTP_HOST") or host_from_environ(environ),
        )
        if outcome is None or outcome.action not in (ADD, ANSWER):
            return self.app(environ, start_response)
        if outcome.action == ANSWER:
            start_response(outcome.status_line, list(outcome.answer_str))
            return [b""]

        started = False

        def cors_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            nonlocal started
            started = True
            return start_response(status, merge_str_headers(headers, outcome), exc_info)

        try:
            return self.app(environ, cors_start_response)
        except Exception:
            if started:
                raise
            logger.exception("unhandled exception in the application (answered 500)")
            headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(_ERROR)))]
            start_response("500 Internal Server Error", merge_str_headers(headers, outcome))
            return [_ERROR]
