"""Domain events announced to webhook subscribers.

`emit` is called by the services *inside the transaction of the change*: it records one
delivery per matching subscription in that transaction (so a committed change always has its
deliveries, and a rolled-back change has none) and queues them for the Celery worker once the
transaction commits. Delivery, retries and signing live in the `webhooks` app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Group

from policies.models import Api

if TYPE_CHECKING:
    from policies.actors import Actor
    from policies.models import AuditEvent, ServiceToken

# Every event a subscription can choose, with what it means (shown in the forms and docs).
EVENT_TYPES: dict[str, str] = {
    "policy.published": "a new version of an API's policy (create, edit, rollback, expiry)",
    "change_request.opened": "a change request was opened",
    "change_request.approved": "a change request was approved",
    "change_request.rejected": "a change request was rejected",
    "change_request.applied": "a change request was applied",
    "change.break_glass": "a change skipped approval (break glass)",
    "token.issued": "a service token was issued",
    "token.revoked": "a service token was revoked",
    "consumer.stale": "a consumer instance has been stale for longer than the threshold",
    "origin.refused_spike": "a new origin was refused more than N times in the window",
    "audit.verify_failed": "the scheduled audit verification found a broken hash chain "
    "(global subscriptions only)",
}


def emit(
    event_type: str, *, api: Api | None, payload: Mapping[str, Any], team: Group | None = None
) -> None:
    """Record `event_type` for every enabled subscription that wants it.

    `api`: the API the event is about (its team's subscriptions and the global ones receive
    it; `payload` gets an `api` object unless it has one); `team`: for events about a team
    but no single API; neither: global subscriptions only. Must be called inside the
    change's transaction (it opens one otherwise). Raises `ValueError` for an unknown type.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    from webhooks import services

    services.record_event(event_type, api=api, payload=payload, team=team)


def api_summary(api: Api) -> dict[str, Any]:
    return {
        "slug": api.slug,
        "name": api.name,
        "team": api.team.name,
        "environment": api.environment,
    }


def policy_published(api: Api, event: AuditEvent) -> None:
    """`policy.published` for the version `event` recorded (the tail of every policy write)."""
    diff = event.diff
    if event.object_type == "origin":
        # One rule changed: say it as the policy's origins list changing, as for an API edit.
        from policies.audit import field_diff

        diff = field_diff(
            {"origins": [event.before] if event.before else []},
            {"origins": [event.after] if event.after else []},
        )
    emit(
        "policy.published",
        api=api,
        payload={
            "version": api.version,
            "action": event.action,
            "diff": diff,
            "actor": event.actor_name,
            "reason": event.comment,
            "audit_sequence": event.sequence,
        },
    )


def token_changed(
    event_type: str,
    *,
    token: ServiceToken,
    apis: Iterable[Api],
    actor: Actor,
    comment: str,
) -> None:
    """`token.issued` / `token.revoked` for a service token: one event per team whose APIs
    it reads, naming only that team's APIs (another team's API names are not theirs)."""
    by_team: dict[int, list[Api]] = {}
    for api in apis:
        by_team.setdefault(api.team_id, []).append(api)
    for team_apis in by_team.values():
        emit(
            event_type,
            api=None,
            team=team_apis[0].team,
            payload={
                "token": {"id": token.pk, "name": token.name, "prefix": token.prefix},
                "apis": sorted(api.slug for api in team_apis),
                "actor": actor.name,
                "reason": comment,
            },
        )
