"""A FastAPI service governed by corsadmin: `python examples/fastapi_service/app.py`.

Environment: CORSADMIN_URL, CORSADMIN_TOKEN, CORSADMIN_APIS (and optionally
CORSADMIN_REDIS_URL, CORSADMIN_INTERVAL, CORSADMIN_BOOTSTRAP_FILE, CORSADMIN_CACHE_FILE),
PORT (default 5002). Needs `pip install /path/to/corsadmin fastapi uvicorn` (no Django).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from policies.consumer.asgi import CorsMiddleware
from policies.consumer.client import PolicyClient, config_from_env

client = PolicyClient(**config_from_env())
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
def health() -> JSONResponse:
    state = client.health()
    return JSONResponse(state, status_code=200 if state["ok"] else 503)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "5002")), log_level="info")
