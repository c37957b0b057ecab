"""ASGI middleware (FastAPI, Starlette, any ASGI application): translates to and from the
client, in bytes (the ASGI header lists are never decoded and re-encoded).

    app.add_middleware(CorsMiddleware, url=..., token=..., apis=["billing"])

The behaviour of the WSGI middleware (``policies.consumer.wsgi``): preflights on covered
paths answered here, the policy's CORS headers on every other response including errors (an
exception escaping before the response started is answered 500 with them, then re-raised so
the server logs it), a wrapped Starlette ``CORSMiddleware``'s headers replaced; report-only,
off and uncovered paths untouched. Paths are matched inside the mount point: ``path`` minus
``root_path`` (``uvicorn --root-path /svc``). No Django import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Unpack

from policies.consumer.client import PolicyClient, client_for
from policies.consumer.config import ClientOptions, Settings
from policies.consumer.core import ADD, ANSWER, merge_bytes_headers

__all__ = ["CorsMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WANTED = {
    b"origin": 0,
    b"access-control-request-method": 1,
    b"access-control-request-headers": 2,
    b"access-control-request-private-network": 3,
    b"host": 4,
}
_ERROR = b"Internal Server Error"
_ERROR_LENGTH = str(len(_ERROR)).encode()


class CorsMiddleware:
    """Wraps an ASGI application; keywords as in design.md, or ``settings=`` / ``client=``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        client: PolicyClient | None = None,
        settings: Settings | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.app = app
        self.client = client_for(client, settings, options)
        self.health_path = self.client.health_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = self.client
        if not client._started and client.settings.startup_wait > 0:
            await asyncio.to_thread(client.ensure_started)  # the wait must not block the loop
        path: str = scope.get("path") or "/"
        root = scope.get("root_path")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        if path == self.health_path:
            status, body = client.health_json()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        found: list[str | None] = [None, None, None, None, None]
        for name, value in scope.get("headers", ()):
            index = _WANTED.get(name)
            if index is not None:
                text = value.decode("latin-1")
                previous = found[index]
                # A repeated header is joined: two Origins make a value that never matches.
                found[index] = text if previous is None else f"{previous}, {text}"
        outcome = client.outcome(
            scope.get("method", "GET"),
            path,
            found[0],
            found[1],
            found[2],
            found[3],
            scheme=scope.get("scheme", "http"),
            host=found[4],
        )
        if outcome is None or outcome.action not in (ADD, ANSWER):
            await self.app(scope, receive, send)
            return
        if outcome.action == ANSWER:
            start = {"type": "http.response.start", "status": outcome.status}
            await send({**start, "headers": list(outcome.answer_bytes)})
            await send({"type": "http.response.body", "body": b""})
            return

        started = False

        async def cors_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                message["headers"] = merge_bytes_headers(message.get("headers", ()), outcome)
            await send(message)

        try:
            await self.app(scope, receive, cors_send)
        except Exception:
            if not started:
                headers = [(b"content-type", b"text/plain"), (b"content-length", _ERROR_LENGTH)]
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": merge_bytes_headers(headers, outcome),
                    }
                )
                await send({"type": "http.response.body", "body": _ERROR})
            raise
