"""Reading the audit log: who may see which events, and the filters (dashboard and API).

Both surfaces call these two functions, so a filter means the same everywhere.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from policies import permissions
from policies.models import AuditAction, AuditEvent
from policies.permissions import UserLike


def events_visible_to(user: UserLike) -> QuerySet[AuditEvent]:
    """Superusers and auditors see every event (also those about no API: logins, personal tokens);
    others the events of APIs they can see now, and of their teams' APIs since deleted."""
    events = AuditEvent.objects.all()
    if permissions.sees_everything(user):  # superusers and auditors
        return events
    if not user.is_authenticated:
        return events.none()
    team_names = list(user.groups.values_list("name", flat=True))
    deleted_of_teams = AuditEvent.objects.filter(
        action=AuditAction.API_DELETED, before__team__in=team_names
    ).values("api_id")
    # Webhook subscriptions belong to a team, not an API: their events name the team.
    team_webhooks = Q(object_type="webhook") & (
        Q(after__team__in=team_names) | Q(before__team__in=team_names)
    )
    return events.filter(
        Q(api_id__in=permissions.visible_apis(user).order_by().values("pk"))
        | Q(api_id__in=deleted_of_teams)
        | team_webhooks
    )


def _sequence_at_or_after(moment: datetime) -> int | None:
    return (
        AuditEvent.objects.filter(timestamp__gte=moment)
        .order_by("timestamp")
        .values_list("sequence", flat=True)
        .first()
    )


def _sequence_before(moment: datetime) -> int | None:
    return (
        AuditEvent.objects.filter(timestamp__lt=moment)
        .order_by("-timestamp")
        .values_list("sequence", flat=True)
        .first()
    )


def filter_events(
    events: QuerySet[AuditEvent],
    *,
    api: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
    text: str | None = None,
) -> QuerySet[AuditEvent]:
    """`since` is inclusive, `before` exclusive; `actor` also matches that person's tokens.

    A date range is also turned into a range of sequence numbers (timestamps never go
    backwards along the chain: `audit.record` guarantees it), so a page of an old window is
    an index range scan instead of a walk back from the newest event.
    """
    if api:
        events = events.filter(api_slug=api)
    if actor:
        events = events.filter(Q(actor_name=actor) | Q(actor_name__startswith=f"{actor} (token "))
    if action:
        events = events.filter(action=action)
    if since is not None:
        first = _sequence_at_or_after(since)
        if first is None:
            return events.none()
        events = events.filter(sequence__gte=first, timestamp__gte=since)
    if before is not None:
        last = _sequence_before(before)
        if last is None:
            return events.none()
        events = events.filter(sequence__lte=last, timestamp__lt=before)
    if text:
        events = events.filter(
            Q(object_repr__icontains=text)
            | Q(before__icontains=text)
            | Q(after__icontains=text)
            | Q(comment__icontains=text)
        )
    return events
