"""Serves a catch-all application behind one of the Python middlewares, once per bootstrap
file, each on its own loopback port: ``python serve_python.py KIND OPTIONS_JSON``.

KIND is ``wsgi``, ``asgi`` or ``django``; OPTIONS_JSON a JSON list of keyword sets for the
middleware's public constructor (``apis``, ``bootstrap_file``, ...), one server each. Prints
the JSON list of ports once every server listens, then serves until terminated. The
application answers ``200 ok`` to every method and path and sets no CORS header, so what a
response carries is the middleware's doing.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ThreadingServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def serve_wsgi(apps: list[Any]) -> None:
    servers = [
        make_server("127.0.0.1", 0, app, server_class=ThreadingServer, handler_class=QuietHandler)
        for app in apps
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps([server.server_port for server in servers]), flush=True)
    threading.Event().wait()


def main() -> None:
    kind, options = sys.argv[1], json.loads(sys.argv[2])
    if kind == "wsgi":
        from policies.consumer.wsgi import CorsMiddleware

        serve_wsgi([CorsMiddleware(wsgi_app, **option) for option in options])
    elif kind == "django":
        serve_wsgi(django_apps(options))
    elif kind == "asgi":
        serve_asgi(options)
    else:
        raise SystemExit(f"unknown kind {kind}")


def django_apps(options: list[dict[str, Any]]) -> list[Any]:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="conformance-only",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["policies.consumer.django.CorsMiddleware"],
        INSTALLED_APPS=[],
        LOGGING_CONFIG=None,
    )
    import django
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    django.setup()
    apps = []
    for option in options:
        names = {f"CORSADMIN_{key.upper()}": value for key, value in option.items()}
        with override_settings(**names):
            apps.append(WSGIHandler())  # the middleware reads its settings here
    return apps


def _ok_view(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(b"ok", content_type="text/plain")


def _urlpatterns() -> list[Any]:
    from django.urls import re_path

    return [re_path(r"", _ok_view)]


def __getattr__(name: str) -> Any:
    # ROOT_URLCONF is this module: Django asks for urlpatterns after settings are configured.
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def serve_asgi(options: list[dict[str, Any]]) -> None:
    import uvicorn

    from policies.consumer.asgi import CorsMiddleware

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})

    sockets = []
    by_port: dict[int, Any] = {}
    for option in options:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sockets.append(sock)
        by_port[sock.getsockname()[1]] = CorsMiddleware(app, **option)

    async def dispatch(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        await by_port[scope["server"][1]](scope, receive, send)

    server = uvicorn.Server(uvicorn.Config(dispatch, lifespan="off", log_level="warning"))
    print(json.dumps(list(by_port)), flush=True)
    server.run(sockets=sockets)


if __name__ == "__main__":
    main()
