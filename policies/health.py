"""Liveness and readiness for orchestrators: `GET /healthz` and `GET /readyz`.

- `/healthz`: the process answers (no dependency is touched), `200 {"status": "ok"}`.
- `/readyz`: every dependency a request needs is there: the database answers, Redis answers
  (when `REDIS_URL` is set), every migration is applied, and the document signing keys
  load. `200 {"status": "ready", "checks": {...}}`, or `503 {"status": "not ready",
  "missing": ["redis", ...], "checks": {...}}` naming what is missing.

They are answered by a middleware placed first, before host validation, HTTPS redirects,
sessions and authentication: a probe (Docker's healthcheck, a load balancer, Kubernetes)
calls `http://127.0.0.1:8000/readyz` with whatever `Host` it has, over plain http, and must
get the truth rather than a 400 for a host name or a 301 to https. They reveal no secret and
no connection detail (the error class only; the detail goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

from policies import signing, store

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"

OK = "ok"
NOT_CONFIGURED = "not configured"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One dependency's state: `ok` is False when requests would fail without it."""

    ok: bool
    detail: str


def check_database() -> CheckResult:
    """The default database answers `SELECT 1`."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("readiness: database unavailable: %s", exc)
        return CheckResult(False, f"unavailable ({type(exc).__name__})")
    return CheckResult(True, OK)


def check_redis() -> CheckResult:
    """Redis (`REDIS_URL`) answers PING; fine when no Redis is configured (embedded mode)."""
    client = store.client()
    if client is None:
        return CheckResult(True, NOT_CONFIGURED)
    try:
        client.ping()
    except Exception as exc:
        logger.warning("readiness: redis unavailable: %s", exc)
        return CheckResult(False, f"unavailable ({type(exc).__name__})")
    return CheckResult(True, OK)


# Once every migration is applied, it stays so for the life of this process (new migrations
# come with new code, hence a new process): the graph is not loaded again on every probe.
_migrated = False


def check_migrations() -> CheckResult:
    """Every migration on disk is applied to the default database."""
    global _migrated
    if _migrated:
        return CheckResult(True, OK)
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        logger.warning("readiness: cannot read the migration state: %s", exc)
        return CheckResult(False, f"unknown ({type(exc).__name__})")
    if plan:
        names = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        return CheckResult(False, f"{len(names)} not applied: {shown}")
    _migrated = True
    return CheckResult(True, OK)


def check_signing_key() -> CheckResult:
    """The Ed25519 key ring that signs policy documents loads (policies/signing.py): the file
    `CORSADMIN_SIGNING_KEY_FILE` exists, is readable and holds Ed25519 private keys."""
    try:
        signing.keyring()
    except (signing.SigningKeyError, OSError) as exc:
        logger.warning("readiness: signing key unusable: %s", exc)
        return CheckResult(False, f"unusable ({type(exc).__name__})")
    return CheckResult(True, OK)


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "redis": check_redis,
    "migrations": check_migrations,
    "signing_key": check_signing_key,
}


def readiness() -> dict[str, CheckResult]:
    """Run every check in `CHECKS`, in order; the migrations check needs the database."""
    results: dict[str, CheckResult] = {}
    for name, check in CHECKS.items():
        if name == "migrations" and not results["database"].ok:
            results[name] = CheckResult(False, "unknown (no database)")
            continue
        results[name] = check()
    return results


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    return _no_store(JsonResponse({"status": "ok"}))


def readyz(request: HttpRequest) -> HttpResponse:
    results = readiness()
    missing = [name for name, result in results.items() if not result.ok]
    body: dict[str, object] = {
        "status": "not ready" if missing else "ready",
        "checks": {name: result.detail for name, result in results.items()},
    }
    if missing:
        body["missing"] = missing
    return _no_store(JsonResponse(body, status=503 if missing else 200))


class ProbeMiddleware:
    """Answers `GET`/`HEAD` on /healthz, /readyz and /metrics before anything else runs.

    First in `MIDDLEWARE`, for the reasons in this module's docstring; `/metrics` is here for
    the same ones (Prometheus scrapes `web:8000` by container name, over plain http) and is
    protected by its own token or address list (`policies.metrics`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            path = request.path_info
            if path == HEALTH_PATH:
                return healthz(request)
            if path == READY_PATH:
                return readyz(request)
            if path == METRICS_PATH:
                from policies.metrics import metrics_view

                return metrics_view(request)
        return self.get_response(request)
