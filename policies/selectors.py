"""Read-only queries over consumer telemetry, for the dashboard and the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, QuerySet, Sum
from django.utils import timezone

from policies.models import Api, ConsumerInstance, RefusedOrigin

ALIVE_WITHIN = timedelta(minutes=10)


def consumers_for(
    api: Api, *, seen_within: timedelta | None = ALIVE_WITHIN, now: datetime | None = None
) -> QuerySet[ConsumerInstance]:
    """The consumer instances of ``api`` that reported within ``seen_within`` (None: all),
    most recent first: what each enforces (version, mode), its age and whether it is stale."""
    queryset = ConsumerInstance.objects.filter(api=api).select_related("token")
    if seen_within is not None:
        queryset = queryset.filter(last_seen__gte=(now or timezone.now()) - seen_within)
    return queryset.order_by("-last_seen")


def refused_origins(api: Api, since: datetime) -> list[dict[str, Any]]:
    """Origins consumers refused for ``api`` since ``since`` (hour granularity), most refused
    first: ``origin``, ``reason``, ``count``, ``last_seen``, ``sample`` (the engine's words)."""
    hour = since.replace(minute=0, second=0, microsecond=0)
    rows = (
        RefusedOrigin.objects.filter(api=api, hour__gte=hour)
        .values("origin", "reason")
        .annotate(count=Sum("count"), last_seen=Max("last_seen"), sample=Max("sample"))
        .order_by("-count", "origin", "reason")
    )
    return [dict(row) for row in rows]
