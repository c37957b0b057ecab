"""ASGI middleware (FastAPI, Starlette, any ASGI application), enforcing the central policy.

    app.add_middleware(CorsMiddleware, url=..., token=..., apis=["billing"])

The same behaviour as the WSGI middleware (see ``policies.consumer.wsgi``): preflights on
covered paths answered before the application, the decision's CORS headers on every other
response including errors (an exception escaping before the response started is answered
500 with them, then re-raised so the server logs it), ``Vary`` merged, application-set CORS
headers replaced. The first request of a process waits (off the event loop) for the first
fetch, bounded by ``timeout``; after that nothing waits on the network.

No Django import.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Unpack

from policies.consumer._http import CORS_REQUEST_HEADERS, merge_headers
from policies.consumer.client import ClientOptions, PolicyClient, client_for

__all__ = ["CorsMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WANTED = frozenset(name.encode() for name in CORS_REQUEST_HEADERS)


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _decode(headers: Any) -> list[tuple[str, str]]:
    return [
        (bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in headers
    ]


class CorsMiddleware:
    """Wraps an ASGI application; configuration as in design.md (or a ready ``client``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        client: PolicyClient | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.app = app
        self.client = client_for(client, options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = self.client
        if client._started_pid != os.getpid():
            # The one blocking fetch (bounded by the timeout) must not block the event loop.
            await asyncio.to_thread(client.ensure_started)
        headers: dict[str, str] = {}
        host: str | None = None
        for raw_name, raw_value in scope.get("headers", ()):
            name = bytes(raw_name).lower()
            if name in _WANTED:
                key = name.decode()
                value = bytes(raw_value).decode("latin-1")
                # A repeated header is joined: two Origins make a value that never matches.
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            elif name == b"host":
                host = bytes(raw_value).decode("latin-1")
        result = client.decide(
            scope.get("method", "GET"),
            scope.get("path") or "/",
            headers,
            scheme=scope.get("scheme", "http"),
            host=host,
        )
        if result is None:
            await self.app(scope, receive, send)
            return
        decision = result[0]
        if not decision.applies or decision.mode != "enforce":
            await self.app(scope, receive, send)
            return
        cors = decision.headers
        if decision.preflight:
            await send(
                {
                    "type": "http.response.start",
                    "status": decision.status or 403,
                    "headers": _encode(
                        [*cors.items(), ("content-type", "text/plain"), ("content-length", "0")]
                    ),
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        started = False

        async def cors_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                message["headers"] = _encode(
                    merge_headers(_decode(message.get("headers", ())), cors)
                )
            await send(message)

        try:
            await self.app(scope, receive, cors_send)
        except Exception:
            if not started:
                body = b"Internal Server Error"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": _encode(
                            merge_headers(
                                [
                                    ("content-type", "text/plain; charset=utf-8"),
                                    ("content-length", str(len(body))),
                                ],
                                cors,
                            )
                        ),
                    }
                )
                await send({"type": "http.response.body", "body": body})
            raise
