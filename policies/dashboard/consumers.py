"""Consumer freshness: which consumer instances enforce the API's current policy.

An instance (one consumer process, as its heartbeats report it) is **stale** when any of:

- it says so itself: its report flags its copy as stale (the consumer could not confirm it
  with central for longer than it allows, e.g. central or Redis unreachable), or it holds no
  policy at all;
- it *lags*: at its last heartbeat a newer version had already been published for longer
  than two poll intervals (`settings.CORSADMIN_CONSUMER_POLL_SECONDS`), which is more than a
  healthy consumer needs to pick it up;
- it is *silent*: no heartbeat for more than `SILENT_AFTER` (stopped, or cannot reach
  central).

An instance behind the current version but still within those two poll intervals is
**updating**; otherwise it is **up to date**. Instances silent for more than `SHOWN_WITHIN`
are left out, so the processes of an old deployment drop off after an hour.

The same definition is used twice: per instance for the API page (`instances`), and as one
aggregate query for a page of the APIs list (`freshness_by_api`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, Min, OuterRef, Q, Subquery
from django.utils import timezone

from policies import cors, selectors
from policies.dashboard import display
from policies.models import Api, ConsumerInstance, PolicyVersion
from policies.origins import OriginError, canonical_origin

SILENT_AFTER = timedelta(minutes=10)
SHOWN_WITHIN = timedelta(hours=1)
MAX_SHOWN = 200
REFUSED_WITHIN = timedelta(hours=24)
MAX_REFUSED = 50
# The consumers' short reason for an origin the policy does not list (policies.consumer).
ORIGIN_NOT_ALLOWED = "origin-not-allowed"


def lag_grace() -> timedelta:
    """How long after a new version a consumer may still hold an older one: 2 polls."""
    return timedelta(seconds=2 * int(settings.CORSADMIN_CONSUMER_POLL_SECONDS))


def _lagging() -> Exists:
    """A newer version than the one held was published more than `lag_grace()` before the
    instance's last heartbeat."""
    return Exists(
        PolicyVersion.objects.filter(
            api_id=OuterRef("api_id"),
            version__gt=OuterRef("version"),
            created_at__lt=OuterRef("last_seen") - lag_grace(),
        )
    )


def _stale(now: datetime) -> Q:
    return (
        Q(stale=True)
        | Q(version__isnull=True)
        | Q(last_seen__lt=now - SILENT_AFTER)
        | Q(_lagging())
    )


@dataclass
class Freshness:
    """One API's consumer instances seen within `SHOWN_WITHIN`, by state."""

    current: int = 0
    updating: int = 0
    stale: int = 0

    @property
    def total(self) -> int:
        return self.current + self.updating + self.stale


def freshness_by_api(
    api_ids: Iterable[int], *, now: datetime | None = None
) -> dict[int, Freshness]:
    """The consumer freshness of each API in `api_ids`, in one aggregate query."""
    now = now or timezone.now()
    ids = list(api_ids)
    if not ids:
        return {}
    stale = _stale(now)
    behind = Q(version__lt=F("api__version"))
    rows = (
        ConsumerInstance.objects.filter(api_id__in=ids, last_seen__gte=now - SHOWN_WITHIN)
        .order_by()
        .values("api_id")
        .annotate(
            total=Count("pk"),
            stale_count=Count("pk", filter=stale),
            updating_count=Count("pk", filter=behind & ~stale),
        )
    )
    result: dict[int, Freshness] = {}
    for row in rows:
        stale_count, updating = row["stale_count"], row["updating_count"]
        result[row["api_id"]] = Freshness(
            current=row["total"] - stale_count - updating, updating=updating, stale=stale_count
        )
    return result


@dataclass
class InstanceRow:
    """One consumer instance as the API page shows it."""

    instance: ConsumerInstance
    status: str  # "current", "updating" or "stale"
    heartbeat: str  # "45 s ago"
    behind: int  # versions behind the API's current one (0 when current or unknown)
    reasons: list[str] = field(default_factory=list)


def instances(api: Api, *, now: datetime | None = None) -> tuple[list[InstanceRow], int]:
    """The instances of `api` seen within `SHOWN_WITHIN` (most recent first, at most
    `MAX_SHOWN`) with their state and why; and how many were seen in all."""
    now = now or timezone.now()
    newer = PolicyVersion.objects.filter(api_id=OuterRef("api_id"), version__gt=OuterRef("version"))
    queryset = selectors.consumers_for(api, seen_within=SHOWN_WITHIN, now=now).annotate(
        newer_since=Subquery(
            newer.order_by().values("api_id").annotate(first=Min("created_at")).values("first")
        ),
    )
    rows = [_row(api, consumer, now) for consumer in queryset[:MAX_SHOWN]]
    total = len(rows) if len(rows) < MAX_SHOWN else queryset.count()
    return rows, total


def _row(api: Api, consumer: ConsumerInstance, now: datetime) -> InstanceRow:
    grace = lag_grace()
    silence = now - consumer.last_seen
    newer_since: datetime | None = getattr(consumer, "newer_since", None)
    held = consumer.version
    behind = api.version - held if held is not None and held < api.version else 0
    reasons: list[str] = []
    if held is None:
        reasons.append("holds no policy")
    if consumer.stale:
        age = display.seconds(round(consumer.age_seconds or 0)) if consumer.age_seconds else ""
        text = "reports its copy as stale"
        if age:
            text += f": central has not confirmed it for {age}"
        if consumer.last_error:
            text += f" ({consumer.last_error})"
        reasons.append(text)
    if newer_since is not None and consumer.last_seen - newer_since > grace:
        lag = display.seconds(round((consumer.last_seen - newer_since).total_seconds()))
        reasons.append(
            f"still on v{held} {lag} after a newer version was published "
            f"(allowed: 2 poll intervals, {display.seconds(round(grace.total_seconds()))})"
        )
    if silence > SILENT_AFTER:
        reasons.append(
            f"no heartbeat for {display.seconds(round(silence.total_seconds()))} "
            f"(over {display.seconds(round(SILENT_AFTER.total_seconds()))}): stopped, "
            f"or cannot reach central"
        )
    if reasons:
        status = "stale"
    elif behind:
        status = "updating"
        reasons.append(
            f"v{api.version} was published recently; consumers poll every "
            f"{int(settings.CORSADMIN_CONSUMER_POLL_SECONDS)} s"
        )
    else:
        status = "current"
    return InstanceRow(
        instance=consumer,
        status=status,
        heartbeat=display.ago(silence),
        behind=behind,
        reasons=reasons,
    )


def summary(rows: Iterable[InstanceRow]) -> Freshness:
    counts = Freshness()
    for row in rows:
        setattr(counts, row.status, getattr(counts, row.status) + 1)
    return counts


def describe(freshness: Freshness | None) -> list[dict[str, Any]]:
    """A list cell: [{"text": "3 up to date", "kind": "ok"}, …]; empty when none seen."""
    if freshness is None or not freshness.total:
        return []
    parts = []
    if freshness.current:
        parts.append({"text": f"{freshness.current} up to date", "kind": "ok"})
    if freshness.updating:
        parts.append({"text": f"{freshness.updating} updating", "kind": "version"})
    if freshness.stale:
        parts.append({"text": f"{freshness.stale} stale", "kind": "error"})
    return parts


# --- refused origins -------------------------------------------------------------------------


@dataclass
class RefusedRow:
    origin: str
    reason: str
    count: int
    last_seen: datetime
    sample: str
    last_ago: str = ""  # "3 min ago"
    # The exact origin "allow" adds (None: not an origin-not-allowed refusal, or not an
    # origin an exact rule can hold, such as "null"); whether the policy allows it by now.
    canonical: str | None = None
    allowed_now: bool = False


def refused(
    api: Api, document: dict[str, Any], *, now: datetime | None = None
) -> tuple[list[RefusedRow], int]:
    """The origins consumers refused within `REFUSED_WITHIN`, most refused first (at most
    `MAX_REFUSED`), and how many distinct (origin, reason) pairs there were in all."""
    now = now or timezone.now()
    found = selectors.refused_origins(api, now - REFUSED_WITHIN)
    try:
        policy: cors.CompiledPolicy | None = cors.compile_policy(document)
    except cors.DocumentError:
        policy = None
    rows = []
    for item in found[:MAX_REFUSED]:
        row = RefusedRow(
            origin=item["origin"],
            reason=item["reason"],
            count=item["count"],
            last_seen=item["last_seen"],
            sample=item["sample"] or "",
            last_ago=display.ago(now - item["last_seen"]),
        )
        if row.reason == ORIGIN_NOT_ALLOWED:
            try:
                row.canonical = canonical_origin(row.origin)
            except OriginError:
                row.canonical = None
            if row.canonical is not None and policy is not None:
                row.allowed_now = policy.allows_origin(row.canonical)
        rows.append(row)
    return rows, len(found)
