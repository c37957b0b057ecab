"""A Flask service governed by corsadmin: `python examples/flask_service/app.py`.

Environment: CORSADMIN_URL, CORSADMIN_TOKEN, CORSADMIN_APIS, CORSADMIN_PUBLIC_KEYS and any
other CORSADMIN_* setting (examples/README.md), PORT (default 5001). Needs
`pip install /path/to/corsadmin flask` (no Django).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from flask import Flask, jsonify, request

from policies.consumer.config import Settings
from policies.consumer.wsgi import CorsMiddleware

app = Flask(__name__)
cors = CorsMiddleware(app.wsgi_app, settings=Settings.from_env())
app.wsgi_app = cors  # type: ignore[method-assign]


@app.after_request
def request_id(response: Any) -> Any:
    response.headers["X-Request-Id"] = uuid.uuid4().hex  # exposed by the policy
    return response


@app.get("/api/items")
def list_items() -> Any:
    return jsonify(service="flask", items=["apple", "pear"])


@app.post("/api/items")
def create_item() -> Any:
    return jsonify(service="flask", created=request.get_json(silent=True)), 201


@app.get("/api/me")
def me() -> Any:
    # A credentialed route: the browser sends cookies only with credentials: "include", and
    # reads the answer only if the policy allows credentials for its origin.
    return jsonify(service="flask", user=request.cookies.get("session", "anonymous"))


@app.get("/health")
def health() -> Any:
    # The client's health (CORSADMIN_HEALTH_PATH=/health would serve the same without this).
    status, body = cors.client.health_json()
    return app.response_class(body, status=status, mimetype="application/json")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5001")), threaded=True)
