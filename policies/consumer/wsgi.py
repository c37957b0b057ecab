"""WSGI middleware (Flask and any WSGI application), enforcing the central CORS policy.

    app.wsgi_app = CorsMiddleware(app.wsgi_app, url=..., token=..., apis=["billing"])

Only translates to and from ``policies.cors.decide`` (through ``PolicyClient``):

- a preflight on a covered path is answered here, before the application (no auth, no
  redirect): 200 with the CORS headers, or 403 without;
- every other response of a covered path, error responses included, gets the decision's
  CORS headers (the application's own are replaced; ``Vary`` is merged); an exception that
  escapes the application before it started its response becomes a 500 that carries them
  too (and is logged), so the browser shows the real error rather than a "CORS error";
- ``report-only``: the response is left as the application made it (no local fallback
  here) and what would be refused is reported; ``off`` or an uncovered path: untouched.

No Django import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Unpack

from policies.consumer._http import REASONS, from_environ, host_from_environ, merge_headers
from policies.consumer.client import ClientOptions, PolicyClient, client_for

__all__ = ["CorsMiddleware"]

logger = logging.getLogger("policies.consumer")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class CorsMiddleware:
    """Wraps a WSGI application; configuration as in design.md (or a ready ``client``)."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        client: PolicyClient | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.app = app
        self.client = client_for(client, options)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        result = self.client.decide(
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("PATH_INFO") or "/",
            from_environ(environ),
            scheme=environ.get("wsgi.url_scheme", "http"),
            host=host_from_environ(environ),
        )
        if result is None:
            return self.app(environ, start_response)
        decision = result[0]
        if not decision.applies or decision.mode != "enforce":
            return self.app(environ, start_response)
        cors = decision.headers
        if decision.preflight:
            status = decision.status or 403
            start_response(
                REASONS.get(status, f"{status} Preflight"),
                [*cors.items(), ("Content-Type", "text/plain"), ("Content-Length", "0")],
            )
            return [b""]

        started = False

        def cors_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            nonlocal started
            started = True
            return start_response(status, merge_headers(headers, cors), exc_info)

        try:
            return self.app(environ, cors_start_response)
        except Exception:
            if started:
                raise
            logger.exception("unhandled exception in the application (answered 500)")
            body = b"Internal Server Error"
            start_response(
                "500 Internal Server Error",
                merge_headers(
                    [
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Content-Length", str(len(body))),
                    ],
                    cors,
                ),
            )
            return [body]
