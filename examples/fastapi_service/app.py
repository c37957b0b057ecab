"""A FastAPI service governed by corsadmin: `python examples/fastapi_service/app.py`.

Environment: CORSADMIN_URL, CORSADMIN_TOKEN, CORSADMIN_APIS, CORSADMIN_PUBLIC_KEYS and any
other CORSADMIN_* setting (examples/README.md), PORT (default 5002), ROOT_PATH (optional: the
prefix a proxy mounts the service under, as `uvicorn --root-path`). Needs
`pip install /path/to/corsadmin fastapi uvicorn` (no Django).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

from policies.consumer.asgi import CorsMiddleware
from policies.consumer.client import PolicyClient
from policies.consumer.config import Settings

client = PolicyClient(Settings.from_env())
app = FastAPI()
app.add_middleware(CorsMiddleware, client=client)


@app.middleware("http")
async def request_id(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    response.headers["X-Request-Id"] = uuid.uuid4().hex  # exposed by the policy
    return response


@app.get("/api/items")
def list_items() -> dict[str, Any]:
    return {"service": "fastapi", "items": ["apple", "pear"]}


@app.post("/api/items", status_code=201)
async def create_item(request: Request) -> dict[str, Any]:
    return {"service": "fastapi", "created": await request.json()}


@app.get("/api/me")
def me(request: Request) -> dict[str, Any]:
    return {"service": "fastapi", "user": request.cookies.get("session", "anonymous")}


@app.get("/health")
def health() -> Response:
    # The client's health (CORSADMIN_HEALTH_PATH=/health would serve the same without this).
    status, body = client.health_json()
    return Response(body, status_code=status, media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "5002")),
        root_path=os.environ.get("ROOT_PATH", ""),
        log_level="info",
    )
