"""Consumer services for the mount-point tests, each served by a real server under /svc.

Configured from the environment (``CORSADMIN_BOOTSTRAP_FILE`` with a signed document,
``CORSADMIN_PUBLIC_KEYS``, ``CORSADMIN_APIS``; no central): ``flask_app`` (WSGI, gunicorn
with ``SCRIPT_NAME``), ``fastapi_app`` (ASGI, ``uvicorn --root-path``) and ``django_app``
(Django under gunicorn, ``SCRIPT_NAME`` or ``FORCE_SCRIPT_NAME``).
"""

from __future__ import annotations

import os
from typing import Any


def _flask() -> Any:
    from flask import Flask, jsonify

    from policies.consumer.config import Settings
    from policies.consumer.wsgi import CorsMiddleware

    app = Flask(__name__)

    @app.get("/api/items")
    def items() -> Any:
        return jsonify(items=[1])

    app.wsgi_app = CorsMiddleware(app.wsgi_app, settings=Settings.from_env())  # type: ignore[method-assign]
    return app


def _fastapi() -> Any:
    from fastapi import FastAPI

    from policies.consumer.asgi import CorsMiddleware
    from policies.consumer.config import Settings

    app = FastAPI()

    @app.get("/api/items")
    def items() -> Any:
        return {"items": [1]}

    app.add_middleware(CorsMiddleware, settings=Settings.from_env())
    return app


def _django() -> Any:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="mount-test-only",
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["policies.consumer.django.CorsMiddleware"],
        INSTALLED_APPS=[],
        FORCE_SCRIPT_NAME=os.environ.get("FORCE_SCRIPT_NAME") or None,
        **{name: value for name, value in os.environ.items() if name.startswith("CORSADMIN_")},
    )
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def _django_urls() -> list[Any]:
    from django.http import HttpRequest, JsonResponse
    from django.urls import path

    def items(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"items": [1], "path": request.path})

    return [path("api/items", items)]


_kind = os.environ.get("MOUNTED_KIND")
if _kind == "flask":
    flask_app = _flask()
elif _kind == "fastapi":
    fastapi_app = _fastapi()
elif _kind == "django":
    django_app = _django()
    urlpatterns = _django_urls()
