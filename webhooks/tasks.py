"""Background work of the webhooks: thin wrappers around `webhooks.services` and `watch`."""

from __future__ import annotations

from celery import shared_task

from webhooks import services, watch


@shared_task(name="webhooks.deliver")
def deliver(delivery_id: int) -> str:
    """Make the next attempt of one delivery (queued when an event is recorded, after a
    failure with its backoff, on redelivery, and by the sweep)."""
    return services.attempt(delivery_id)


@shared_task(name="webhooks.retry_due")
def retry_due() -> int:
    """Queue every pending delivery that is due (beat, every 30 s): retries whose wait was
    too long to hand to the broker, and deliveries whose queueing was lost."""
    ids = services.due_deliveries()
    for delivery_id in ids:
        deliver.delay(delivery_id)
    return len(ids)


@shared_task(name="webhooks.prune_deliveries")
def prune_deliveries() -> int:
    """Forget finished deliveries older than 30 days (daily under beat)."""
    return services.prune_deliveries()


@shared_task(name="webhooks.check_stale_consumers")
def check_stale_consumers() -> int:
    return watch.check_stale_consumers()


@shared_task(name="webhooks.check_refused_spikes")
def check_refused_spikes() -> int:
    return watch.check_refused_spikes()


@shared_task(name="webhooks.verify_audit")
def verify_audit() -> dict[str, object]:
    """The scheduled audit verification (hourly under beat)."""
    return watch.verify_audit()
