"""Background work. Each task is a thin wrapper around a service."""

from __future__ import annotations

from celery import shared_task

from policies import services


@shared_task(name="policies.expire_origins")
def expire_origins() -> int:
    """Remove temporary origins whose time is up (scheduled every minute by beat)."""
    return services.expire_origins()
