"""Scheduled checks that turn telemetry and the audit chain into events (run by beat).

- `check_stale_consumers`: `consumer.stale` once per stale spell of a consumer instance,
  when it has been stale for longer than `conf.stale_after()`. Stale means what the API
  page shows (`policies.dashboard.consumers`): it says so, it holds no policy, it lags
  behind a published version, or it is silent. A silent instance counts only when its whole
  service (same API, same service name) is silent: instances replaced by a deployment go
  silent too, while their service keeps reporting.
- `check_refused_spikes`: `origin.refused_spike` once per (API, origin) when an origin that
  consumers had not refused before the window was refused more than `conf.spike_threshold()`
  times within `conf.spike_window()` (counts are kept per hour, so the window starts at the
  top of its first hour).
- `verify_audit`: `audit.verify_failed` when the audit hash chain is broken.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from policies import audit, events
from policies.dashboard.consumers import SHOWN_WITHIN, SILENT_AFTER
from policies.dashboard.consumers import _stale as stale_condition  # the page's definition
from policies.models import Api, ConsumerInstance, RefusedOrigin
from webhooks import conf
from webhooks.models import RefusedSpikeNotice, StaleConsumerNotice


def _why(instance: ConsumerInstance, now: datetime) -> str:
    if instance.last_seen < now - SILENT_AFTER:
        minutes = int((now - instance.last_seen).total_seconds() // 60)
        return f"silent for {minutes} min (no heartbeat from any instance of the service)"
    if instance.version is None:
        return "it holds no policy"
    if instance.stale:
        error = f": {instance.last_error}" if instance.last_error else ""
        return f"it reports its copy as stale{error}"
    return f"it holds version {instance.version} while {instance.api.version} is published"


def check_stale_consumers(*, now: datetime | None = None) -> int:
    """Send `consumer.stale` for instances stale for longer than the threshold; returns how
    many were announced."""
    now = now or timezone.now()
    recent = ConsumerInstance.objects.filter(last_seen__gte=now - SHOWN_WITHIN)
    stale = list(recent.filter(stale_condition(now)).select_related("api__team"))
    alive_services = set(
        recent.filter(last_seen__gte=now - SILENT_AFTER).values_list("api_id", "service")
    )
    current: set[int] = set()
    announced = 0
    notices = {
        notice.consumer_id: notice
        for notice in StaleConsumerNotice.objects.filter(consumer__in=[i.pk for i in stale])
    }
    for instance in stale:
        silent = instance.last_seen < now - SILENT_AFTER
        if silent and (instance.api_id, instance.service) in alive_services:
            continue
        current.add(instance.pk)
        notice = notices.get(instance.pk)
        if notice is None:
            since = instance.last_seen + SILENT_AFTER if silent else now
            notice = StaleConsumerNotice.objects.create(consumer=instance, since=since)
        if notice.notified_at is not None or now - notice.since < conf.stale_after():
            continue
        with transaction.atomic():
            events.emit(
                "consumer.stale",
                api=instance.api,
                payload={
                    "consumer": {
                        "instance": instance.instance,
                        "service": instance.service,
                        "version": instance.version,
                        "mode": instance.mode,
                        "last_seen": instance.last_seen.isoformat(),
                        "last_error": instance.last_error,
                    },
                    "published_version": instance.api.version,
                    "why": _why(instance, now),
                    "stale_since": notice.since.isoformat(),
                },
            )
            notice.notified_at = now
            notice.save(update_fields=["notified_at"])
        announced += 1
    # Fresh again (or gone): the next spell is a new one.
    StaleConsumerNotice.objects.exclude(consumer_id__in=current).delete()
    return announced


def check_refused_spikes(*, now: datetime | None = None) -> int:
    """Send `origin.refused_spike` for new origins refused more than the threshold within
    the window; returns how many were announced."""
    now = now or timezone.now()
    start = (now - conf.spike_window()).replace(minute=0, second=0, microsecond=0)
    totals = (
        RefusedOrigin.objects.filter(hour__gte=start)
        .values("api_id", "origin")
        .annotate(total=Sum("count"))
        .filter(total__gt=conf.spike_threshold())
        .order_by("-total")
    )
    announced = 0
    for row in totals[:100]:
        api_id, origin = row["api_id"], row["origin"]
        if RefusedSpikeNotice.objects.filter(api_id=api_id, origin=origin).exists():
            continue
        if RefusedOrigin.objects.filter(api_id=api_id, origin=origin, hour__lt=start).exists():
            continue  # refused before: not a new origin
        reasons = dict(
            RefusedOrigin.objects.filter(api_id=api_id, origin=origin, hour__gte=start)
            .values("reason")
            .annotate(total=Sum("count"))
            .values_list("reason", "total")
        )
        sample = (
            RefusedOrigin.objects.filter(api_id=api_id, origin=origin, hour__gte=start)
            .exclude(sample="")
            .values_list("sample", flat=True)
            .first()
        )
        with transaction.atomic():
            api = Api.objects.select_related("team").get(pk=api_id)
            events.emit(
                "origin.refused_spike",
                api=api,
                payload={
                    "origin": origin,
                    "count": row["total"],
                    "threshold": conf.spike_threshold(),
                    "window_seconds": int(conf.spike_window().total_seconds()),
                    "since": start.isoformat(),
                    "reasons": reasons,
                    "sample": sample or "",
                },
            )
            RefusedSpikeNotice.objects.create(api_id=api_id, origin=origin, notified_at=now)
        announced += 1
    return announced


def verify_audit() -> dict[str, object]:
    """Walk the audit chain; on a break, send `audit.verify_failed` (global subscriptions).
    Returns `{"checked": n, "problem": None | {"sequence", "problem"}}`."""
    checked, problem = audit.verify_chain()
    if problem is None:
        return {"checked": checked, "problem": None}
    found = {"sequence": problem.sequence, "problem": problem.problem}
    with transaction.atomic():
        events.emit("audit.verify_failed", api=None, payload={"checked": checked, **found})
    return {"checked": checked, "problem": found}
