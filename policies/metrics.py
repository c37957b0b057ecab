"""Central's Prometheus metrics (prometheus-client) and the protected `GET /metrics`.

Counters are incremented where the event happens (the policy endpoint, the report endpoint,
the login signals). Under gunicorn, several worker processes count separately: with
`PROMETHEUS_MULTIPROC_DIR` set (`corsadmin/gunicorn_conf.py` sets it unless given, and
empties it at start), each process writes its counts there and `/metrics` adds them up
(prometheus-client's multiprocess mode). Values read from the
database (queues, open work) are computed when scraped, by `DatabaseCollector`, so every
process reports the same number.

`/metrics` is not public: it answers only a request bearing `CORSADMIN_METRICS_TOKEN`
(`Authorization: Bearer ...`) or coming from an address in `CORSADMIN_METRICS_ALLOW`
(addresses or CIDR networks, compared with `REMOTE_ADDR`). With neither set it is a 404.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import os
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from policies.request_context import client_ip

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Unlabelled counters open their file as soon as they are defined, below.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

DOCUMENTS_SERVED = Counter(
    "corsadmin_policy_documents_served",
    "Answers of the policy endpoint (GET /api/v1/policies[/<slug>]) by HTTP status: "
    "200 a document, 304 unchanged, 401 bad token, 404 not this token's, 429 throttled.",
    ["status"],
)
TELEMETRY_REPORTS = Counter(
    "corsadmin_telemetry_reports",
    "Consumer reports (POST /api/v1/reports): accepted (202) or rejected (any other status).",
    ["outcome"],
)
TELEMETRY_ENTRIES = Counter(
    "corsadmin_telemetry_entries",
    "Entries of accepted consumer reports: stored, or ignored (an API the token may not read).",
    ["outcome"],
)
LOGIN_FAILURES = Counter(
    "corsadmin_login_failures",
    "Failed log-ins (dashboard and Django admin), including those refused by the lockout.",
)


def count_document_answer(status: int) -> None:
    DOCUMENTS_SERVED.labels(status=str(status)).inc()


def count_report(*, status: int) -> None:
    TELEMETRY_REPORTS.labels(outcome="accepted" if 200 <= status < 300 else "rejected").inc()


def count_report_entries(*, stored: int, ignored: int) -> None:
    if stored:
        TELEMETRY_ENTRIES.labels(outcome="stored").inc(stored)
    if ignored:
        TELEMETRY_ENTRIES.labels(outcome="ignored").inc(ignored)


@receiver(user_login_failed, dispatch_uid="corsadmin-metrics-login-failed")
def _login_failed(sender: Any, **kwargs: Any) -> None:
    LOGIN_FAILURES.inc()


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (the same in every process): one
    aggregate query each."""

    def collect(self) -> Iterator[Metric]:
        from django.db.models import Count, Min
        from django.utils import timezone

        from policies.models import Api, ChangeRequest, ChangeRequestState, OutboxMessage

        pending = OutboxMessage.objects.filter(delivered_at__isnull=True).aggregate(
            count=Count("id"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "corsadmin_outbox_pending",
            "Committed changes not yet delivered to Redis (the outbox).",
            value=pending["count"],
        )
        oldest = pending["oldest"]
        yield GaugeMetricFamily(
            "corsadmin_outbox_lag_seconds",
            "Age of the oldest undelivered outbox message, seconds (0 when none waits): how "
            "far Redis, hence consumers sharing it, is behind the database.",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )

        apis = GaugeMetricFamily(
            "corsadmin_apis", "APIs managed, by mode (enforce, report-only, off).", labels=["mode"]
        )
        for row in Api.objects.values("mode").annotate(count=Count("id")).order_by("mode"):
            apis.add_metric([row["mode"]], row["count"])
        yield apis

        waiting = GaugeMetricFamily(
            "corsadmin_change_requests_pending",
            "Change requests waiting to apply (open: needs approvals; approved: scheduled).",
            labels=["state"],
        )
        pending_states = (ChangeRequestState.OPEN, ChangeRequestState.APPROVED)
        counts = dict(
            ChangeRequest.objects.filter(state__in=pending_states)
            .values_list("state")
            .annotate(count=Count("id"))
            .order_by()
        )
        for state in pending_states:
            waiting.add_metric([state.value], counts.get(state.value, 0))
        yield waiting


# --- the endpoint ----------------------------------------------------------------------


@functools.cache
def _networks(raw: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in raw)


def parse_allow_list(entries: Iterable[str]) -> list[str]:
    """The entries of `CORSADMIN_METRICS_ALLOW` that are not an address or CIDR network."""
    bad = []
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            bad.append(entry)
    return bad


def _address_allowed(request: HttpRequest) -> bool:
    allow = tuple(settings.CORSADMIN_METRICS_ALLOW)
    ip = client_ip(request)
    if not allow or ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(allow))


def _token_matches(request: HttpRequest) -> bool:
    expected: str = settings.CORSADMIN_METRICS_TOKEN
    if not expected:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Constant-time comparison: the token must not be guessable from response timings.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), expected)


def exposition() -> bytes:
    """Every metric in Prometheus' text format (all worker processes when multiprocess)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        base = generate_latest(registry)
    else:
        base = generate_latest(REGISTRY)
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return base + generate_latest(database)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.CORSADMIN_METRICS_TOKEN and not settings.CORSADMIN_METRICS_ALLOW:
        # Not configured: as if there were no such page.
        return HttpResponse("Not Found\n", status=404, content_type="text/plain")
    if not (_token_matches(request) or _address_allowed(request)):
        if settings.CORSADMIN_METRICS_TOKEN:
            response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
