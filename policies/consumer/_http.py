"""What the middlewares share: reading the CORS request headers, writing the response ones.

Pure Python (no framework). The rule on covered paths in ``enforce`` mode: the decision's
headers are the only CORS headers of the response. Any the application set itself are
replaced, or removed when the request is refused, so a response never carries two
``Access-Control-Allow-Origin`` values nor one that contradicts the policy. An existing
``Vary`` is merged (``merge_vary``), never overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from policies.cors import merge_vary

CORS_REQUEST_HEADERS: Final = (
    "origin",
    "access-control-request-method",
    "access-control-request-headers",
    "access-control-request-private-network",
)
WSGI_KEYS: Final = tuple(
    (name, "HTTP_" + name.upper().replace("-", "_")) for name in CORS_REQUEST_HEADERS
)
CORS_RESPONSE_HEADERS: Final = frozenset(
    {
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
        "access-control-max-age",
        "access-control-allow-private-network",
    }
)
REASONS: Final = {200: "200 OK", 403: "403 Forbidden"}


def from_environ(environ: Mapping[str, object]) -> dict[str, str]:
    """The CORS request headers of a WSGI environ (or Django's ``request.META``)."""
    headers: dict[str, str] = {}
    for name, key in WSGI_KEYS:
        value = environ.get(key)
        if isinstance(value, str):
            headers[name] = value
    return headers


def host_from_environ(environ: Mapping[str, object]) -> str | None:
    """The request's host (and port) from a WSGI environ or Django's ``request.META``."""
    host = environ.get("HTTP_HOST")
    if host:
        return str(host)
    name, port = environ.get("SERVER_NAME"), environ.get("SERVER_PORT")
    if not name:
        return None
    return f"{name}:{port}" if port else str(name)


def merge_headers(
    existing: Iterable[tuple[str, str]], cors: Mapping[str, str]
) -> list[tuple[str, str]]:
    """``existing`` response headers with the application's CORS headers replaced by
    ``cors`` (the decision's) and ``Vary`` merged into one header."""
    kept: list[tuple[str, str]] = []
    vary: list[str] = []
    for name, value in existing:
        lower = name.lower()
        if lower == "vary":
            vary.append(value)
        elif lower not in CORS_RESPONSE_HEADERS:
            kept.append((name, value))
    kept.extend((name, value) for name, value in cors.items() if name != "Vary")
    merged = merge_vary(", ".join(vary) or None, cors.get("Vary", ""))
    if merged:
        kept.append(("Vary", merged))
    return kept
