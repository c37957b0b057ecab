"""Background work. Each task is a thin wrapper around a service."""

from __future__ import annotations

from celery import shared_task

from policies import change_requests, outbox, publishing, services


@shared_task(name="policies.expire_origins")
def expire_origins() -> int:
    """Remove temporary origins whose time is up (scheduled every minute by beat)."""
    return services.expire_origins()


@shared_task(name="policies.republish_all")
def republish_all() -> int:
    """Put every compiled document back into Redis (after a flush or an outage during which
    changes could not be stored there); scheduled every five minutes by beat."""
    outbox.prune_delivered()
    return publishing.republish_all()


@shared_task(name="policies.deliver_outbox", ignore_result=True)
def deliver_outbox() -> int:
    """Deliver committed changes Redis has not taken yet (queued on commit when the request
    could not deliver; swept by beat every 2 s). Returns how many were delivered."""
    return outbox.deliver_pending()


@shared_task(name="policies.prune_telemetry")
def prune_telemetry() -> tuple[int, int]:
    """Forget old refusal counts and long-silent consumer instances (daily under beat)."""
    return services.prune_telemetry()


@shared_task(name="policies.apply_scheduled_changes")
def apply_scheduled_changes() -> int:
    """Apply approved change requests whose scheduled time has come (every minute by beat)."""
    return change_requests.apply_scheduled()
