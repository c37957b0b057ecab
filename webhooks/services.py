"""Every write to webhooks: subscriptions (authorised, audited in the hash chain, in one
transaction), recording events, and sending deliveries with retries.

Delivery follows Standard Webhooks (https://www.standardwebhooks.com/): headers
`webhook-id` (the same on every attempt), `webhook-timestamp` (seconds, at the attempt) and
`webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, computed by the
`standardwebhooks` package), so receivers verify with a stock library.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from policies import audit, permissions
from policies.actors import Actor
from policies.events import EVENT_TYPES, api_summary
from policies.models import ActorType, Api, AuditAction
from policies.services import NotPermitted, ValidationFailed
from webhooks import conf, formats, secrets, ssrf, transport
from webhooks.models import Attempt, Delivery, DeliveryStatus, Format, Subscription

log = logging.getLogger(__name__)

GLOBAL_ONLY = frozenset({"audit.verify_failed"})
# The longest wait between two attempts; the whole budget is `conf.retry_for()`.
MAX_BACKOFF = timedelta(hours=6)
# A queued attempt may start this much before it is due (clocks of web and worker differ).
EARLY_SLACK = timedelta(seconds=2)
# Longest wait handed to the broker as a countdown; longer ones are left to the sweep
# (`retry_due`, every 30 s under beat), so no message waits for hours in the broker.
MAX_COUNTDOWN = 900.0


# --- subscriptions ---------------------------------------------------------------------------


def _authorise(actor: Actor, team: Group | None) -> None:
    if actor.type == ActorType.SYSTEM:
        return
    user = actor.user
    if user is None:
        raise NotPermitted(f"{actor.name} may not change webhooks")
    if team is None and not user.is_superuser:
        raise NotPermitted("only superusers manage global webhooks")
    if team is not None and not permissions.can_edit_team(user, team):
        raise NotPermitted(f"{actor.name} may not change webhooks of team {team.name}")


def _state(subscription: Subscription) -> dict[str, Any]:
    """What the audit log records of a subscription (never the secret)."""
    return {
        "name": subscription.name,
        "team": subscription.team.name if subscription.team else None,
        "url": subscription.url,
        "format": subscription.format,
        "event_types": list(subscription.event_types),
        "enabled": subscription.enabled,
        "secret": f"{subscription.secret_prefix}…",
    }


def _clean_name(value: Any, errors: dict[str, list[str]]) -> str:
    name = str(value or "").strip()
    if not name:
        errors["name"] = ["a name is required (where do these events go?)"]
    elif len(name) > 100:
        errors["name"] = ["the name is longer than 100 characters"]
    return name


def _clean_url(value: Any, errors: dict[str, list[str]]) -> str:
    try:
        return ssrf.check(str(value or ""), allow_private=conf.allow_private()).url
    except ssrf.UnsafeUrl as exc:
        errors["url"] = [str(exc)]
        return ""


def _clean_events(value: Any, team: Group | None, errors: dict[str, list[str]]) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        errors["event_types"] = ["choose at least one event type"]
        return []
    chosen: list[str] = []
    problems = []
    for item in value:
        if item not in EVENT_TYPES:
            problems.append(f"{item!r} is not an event type: {', '.join(EVENT_TYPES)}")
        elif team is not None and item in GLOBAL_ONLY:
            problems.append(f"{item} is sent to global subscriptions only")
        elif item not in chosen:
            chosen.append(str(item))
    if problems:
        errors["event_types"] = problems
    return sorted(chosen)


def _clean_format(value: Any, errors: dict[str, list[str]]) -> str:
    if value not in Format.values:
        errors["format"] = [f"{value!r} is not one of: {', '.join(Format.values)}"]
    return str(value)


def _record(
    actor: Actor,
    action: AuditAction,
    subscription: Subscription,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    comment: str = "",
    pk: int | None = None,
) -> None:
    audit.record(
        actor=actor,
        action=action,
        object_type="webhook",
        object_id=pk or subscription.pk,
        object_repr=subscription.name,
        before=before,
        after=after,
        comment=comment,
    )


def create_subscription(
    *,
    actor: Actor,
    name: str,
    url: str,
    team: Group | None,
    event_types: Iterable[str],
    format: str = Format.STANDARD,
    enabled: bool = True,
    comment: str = "",
) -> tuple[Subscription, str]:
    """A new subscription and its signing secret (`whsec_...`): the secret is returned here
    and never again. `team` None makes a global subscription (superusers only).

    Raises `NotPermitted`, `ValidationFailed` (field -> messages; an unsafe URL under `url`).
    """
    _authorise(actor, team)
    if team is not None and team.name == permissions.READ_ONLY_GROUP:
        raise ValidationFailed({"team": [f"{team.name!r} is the read-only role, not a team"]})
    errors: dict[str, list[str]] = {}
    subscription = Subscription(
        name=_clean_name(name, errors),
        url=_clean_url(url, errors),
        team=team,
        format=_clean_format(format, errors),
        event_types=_clean_events(list(event_types), team, errors),
        enabled=bool(enabled),
        created_by=actor.user if actor.type == ActorType.USER else None,
    )
    if errors:
        raise ValidationFailed(errors)
    secret = secrets.new_secret()
    subscription.secret_encrypted = secrets.encrypt(secret)
    subscription.secret_prefix = secrets.shown_prefix(secret)
    with transaction.atomic():
        subscription.save()
        _record(
            actor,
            AuditAction.WEBHOOK_CREATED,
            subscription,
            before=None,
            after=_state(subscription),
            comment=comment,
        )
    return subscription, secret


_EDITABLE = ("name", "url", "format", "event_types", "enabled")


def update_subscription(
    *, actor: Actor, subscription: Subscription, comment: str = "", **changes: Any
) -> Subscription:
    """Change `name`, `url`, `format`, `event_types` or `enabled` (the team is fixed).
    Enabling a disabled subscription clears its failure count."""
    unknown = sorted(set(changes) - set(_EDITABLE))
    if unknown:
        raise ValidationFailed({name: [f"{name} cannot be changed"] for name in unknown})
    _authorise(actor, subscription.team)
    with transaction.atomic():
        current = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("team")
            .get(pk=subscription.pk)
        )
        before = _state(current)
        errors: dict[str, list[str]] = {}
        if "name" in changes:
            current.name = _clean_name(changes["name"], errors)
        if "url" in changes:
            current.url = _clean_url(changes["url"], errors)
        if "format" in changes:
            current.format = _clean_format(changes["format"], errors)
        if "event_types" in changes:
            current.event_types = _clean_events(changes["event_types"], current.team, errors)
        if errors:
            raise ValidationFailed(errors)
        if "enabled" in changes:
            enabled = bool(changes["enabled"])
            if enabled and not current.enabled:
                current.consecutive_failures = 0
                current.disabled_at = None
                current.disabled_reason = ""
            current.enabled = enabled
        after = _state(current)
        if after == before:
            return current
        current.save()
        _record(
            actor,
            AuditAction.WEBHOOK_UPDATED,
            current,
            before=before,
            after=after,
            comment=comment,
        )
        if not current.enabled:
            _cancel_pending(current, "the subscription was disabled")
    return current


def delete_subscription(*, actor: Actor, subscription: Subscription, comment: str = "") -> None:
    """Remove a subscription with its deliveries (the audit event keeps what it was)."""
    _authorise(actor, subscription.team)
    with transaction.atomic():
        current = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("team")
            .get(pk=subscription.pk)
        )
        before, pk = _state(current), current.pk
        current.delete()
        _record(
            actor,
            AuditAction.WEBHOOK_DELETED,
            current,
            before=before,
            after=None,
            comment=comment,
            pk=pk,
        )


def rotate_secret(
    *,
    actor: Actor,
    subscription: Subscription,
    keep_previous_for: timedelta = timedelta(0),
    comment: str = "",
) -> str:
    """A new signing secret (returned once). With `keep_previous_for`, deliveries are signed
    with both secrets until then (Standard Webhooks allows several signatures), so the
    receiver can switch without refusing anything; without it the old one stops at once
    (a leaked secret)."""
    _authorise(actor, subscription.team)
    if keep_previous_for < timedelta(0) or keep_previous_for > timedelta(days=7):
        raise ValidationFailed({"keep_previous_hours": ["between 0 and 168 hours"]})
    secret = secrets.new_secret()
    with transaction.atomic():
        current = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("team")
            .get(pk=subscription.pk)
        )
        before = _state(current)
        if keep_previous_for:
            current.previous_secret_encrypted = current.secret_encrypted
            current.previous_secret_until = timezone.now() + keep_previous_for
        else:
            current.previous_secret_encrypted = ""
            current.previous_secret_until = None
        current.secret_encrypted = secrets.encrypt(secret)
        current.secret_prefix = secrets.shown_prefix(secret)
        current.save()
        after = _state(current)
        if keep_previous_for:
            after["previous_secret_until"] = current.previous_secret_until.isoformat()  # type: ignore[union-attr]
        _record(
            actor,
            AuditAction.WEBHOOK_SECRET_ROTATED,
            current,
            before=before,
            after=after,
            comment=comment,
        )
    subscription.secret_prefix = current.secret_prefix
    return secret


def redeliver(*, actor: Actor, delivery: Delivery, comment: str = "") -> Delivery:
    """Send a delivery again now (whatever its state), with a fresh retry budget; the
    `webhook-id` stays the same, so a receiver that had it can tell."""
    subscription = delivery.subscription
    _authorise(actor, subscription.team)
    if not subscription.enabled:
        raise ValidationFailed(
            {"subscription": ["the subscription is disabled: enable it, then redeliver"]}
        )
    now = timezone.now()
    with transaction.atomic():
        current = Delivery.objects.select_for_update().get(pk=delivery.pk)
        current.status = DeliveryStatus.PENDING
        current.next_attempt_at = now
        current.give_up_at = now + conf.retry_for()
        current.lease_until = None
        current.save()
        _record(
            actor,
            AuditAction.WEBHOOK_REDELIVERED,
            subscription,
            before=None,
            after={
                **_state(subscription),
                "delivery": current.pk,
                "event_id": current.event_id,
                "event_type": current.event_type,
            },
            comment=comment,
        )
        _queue([current.pk], countdown=0)
    return current


def _cancel_pending(subscription: Subscription, why: str) -> None:
    Delivery.objects.filter(subscription=subscription, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, next_attempt_at=None, last_error=why
    )


# --- events ----------------------------------------------------------------------------------


def record_event(
    event_type: str,
    *,
    api: Api | None,
    payload: Mapping[str, Any],
    team: Group | None = None,
    now: datetime | None = None,
) -> list[int]:
    """One pending delivery per enabled subscription that wants `event_type` (the global
    ones, and those of the team the event is about), in the caller's transaction; queued to
    the worker when it commits. Returns the delivery ids."""
    team_id = api.team_id if api is not None else (team.pk if team is not None else None)
    scope = Q(team__isnull=True)
    if team_id is not None:
        scope |= Q(team_id=team_id)
    wanted = [
        subscription
        for subscription in Subscription.objects.filter(scope, enabled=True)
        if event_type in subscription.event_types
    ]
    if not wanted:
        return []
    data = dict(payload)
    if api is not None and "api" not in data:
        data["api"] = api_summary(api)
    # What is stored is exactly what will be sent (JSON types only).
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    now = now or timezone.now()
    event_id = f"msg_{uuid.uuid4().hex}"
    with transaction.atomic():
        created = Delivery.objects.bulk_create(
            [
                Delivery(
                    subscription=subscription,
                    event_id=event_id,
                    event_type=event_type,
                    payload=data,
                    occurred_at=now,
                    next_attempt_at=now,
                    give_up_at=now + conf.retry_for(),
                )
                for subscription in wanted
            ]
        )
        ids = [delivery.pk for delivery in created]
        _queue(ids, countdown=0)
    return ids


def _queue(ids: list[int], *, countdown: float) -> None:
    """Hand the deliveries to the worker once the transaction commits. If the broker is
    down the rows stay pending and the sweep (`retry_due`) sends them later."""
    from webhooks import tasks

    def send() -> None:
        for delivery_id in ids:
            if countdown > 0:
                tasks.deliver.apply_async((delivery_id,), countdown=countdown)
            else:
                tasks.deliver.delay(delivery_id)

    transaction.on_commit(send, robust=True)


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepared:
    url: str
    body: bytes
    headers: dict[str, str]
    error: str = ""


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt number `attempt` (1, 2, ...): base, 2 x base, 4 x ...,
    with up to 10 % jitter (so many failed deliveries do not retry in lock step), capped."""
    base = conf.retry_base() * (2 ** min(attempt - 1, 30))
    seconds = min(base, MAX_BACKOFF.total_seconds()) * (1 + random.random() / 10)  # noqa: S311
    return timedelta(seconds=seconds)


def signature(subscription: Subscription, *, msg_id: str, at: datetime, body: str) -> str:
    """The `webhook-signature` header: one `v1,...` per valid secret (the previous one too,
    during a rotation's overlap)."""
    stored = [subscription.secret_encrypted]
    if subscription.previous_secret_encrypted and (
        subscription.previous_secret_until and subscription.previous_secret_until > at
    ):
        stored.append(subscription.previous_secret_encrypted)
    return " ".join(
        Webhook(secrets.decrypt(value)).sign(msg_id=msg_id, timestamp=at, data=body)
        for value in stored
    )


def prepare(subscription: Subscription, delivery: Delivery, at: datetime) -> Prepared:
    if subscription.format == Format.SLACK:
        body = formats.slack_body(event_type=delivery.event_type, data=delivery.payload)
    else:
        body = formats.standard_body(
            event_type=delivery.event_type,
            timestamp=delivery.occurred_at.isoformat(),
            data=delivery.payload,
        )
    try:
        signed = signature(subscription, msg_id=delivery.event_id, at=at, body=body.decode())
    except secrets.SecretUnreadable as exc:
        return Prepared(url=subscription.url, body=body, headers={}, error=str(exc))
    headers = {
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signed,
    }
    return Prepared(url=subscription.url, body=body, headers=headers)


def attempt(delivery_id: int) -> str:
    """Make the next attempt of a delivery if it is due and nobody else is making it; record
    it. Returns what happened: `delivered`, `retry`, `failed`, `cancelled`, `not due`,
    `busy`, `done` (already finished) or `gone`."""
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            return "gone"
        if delivery.status != DeliveryStatus.PENDING:
            return "done"
        if delivery.lease_until is not None and delivery.lease_until > now:
            return "busy"
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + EARLY_SLACK:
            return "not due"
        subscription = Subscription.objects.get(pk=delivery.subscription_id)
        if not subscription.enabled:
            delivery.status = DeliveryStatus.CANCELLED
            delivery.next_attempt_at = None
            delivery.last_error = "the subscription is disabled"
            delivery.save()
            return "cancelled"
        delivery.attempts += 1
        # Long enough for the attempt, short enough that a worker killed mid-attempt does not
        # hold the delivery for long: after it, the sweep takes it again.
        delivery.lease_until = now + timedelta(seconds=3 * conf.timeout() + 30)
        delivery.save(update_fields=["attempts", "lease_until"])
        number = delivery.attempts
        prepared = prepare(subscription, delivery, now)
    if prepared.error:
        outcome = transport.Outcome(
            ok=False, status_code=None, duration_ms=0.0, error=prepared.error
        )
    else:
        outcome = transport.post(
            prepared.url,
            body=prepared.body,
            headers=prepared.headers,
            allow_private=conf.allow_private(),
            timeout=conf.timeout(),
            max_bytes=conf.max_response_bytes(),
        )
    return _settle(delivery_id, number=number, started=now, outcome=outcome)


def _settle(delivery_id: int, *, number: int, started: datetime, outcome: transport.Outcome) -> str:
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            return "gone"  # the subscription was deleted meanwhile
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("team")
            .get(pk=delivery.subscription_id)
        )
        Attempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=started,
            duration_ms=outcome.duration_ms,
            ok=outcome.ok,
            status_code=outcome.status_code,
            error=outcome.error[:500],
            response_excerpt=outcome.excerpt[:500],
        )
        delivery.lease_until = None
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error[:500]
        if outcome.ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            delivery.save()
            if subscription.consecutive_failures:
                Subscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
            return "delivered"
        Subscription.objects.filter(pk=subscription.pk).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        subscription.refresh_from_db(fields=["consecutive_failures"])
        wait = backoff(number)
        result = "retry"
        if now + wait > delivery.give_up_at:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            result = "failed"
        else:
            delivery.next_attempt_at = now + wait
        delivery.save()
        if subscription.enabled and subscription.consecutive_failures >= conf.disable_after():
            _disable(subscription, last_error=outcome.error)
            return "cancelled" if result == "retry" else result
        if result == "retry" and wait.total_seconds() <= MAX_COUNTDOWN:
            _queue([delivery.pk], countdown=wait.total_seconds())
        log.info(
            "webhook delivery %s to %s failed (attempt %s: %s)",
            delivery.pk,
            subscription.name,
            number,
            outcome.error,
        )
        return result


def _disable(subscription: Subscription, *, last_error: str) -> None:
    """Stop a subscription that keeps failing; its owners see why (audit event, dashboard
    banner) and can enable it again once the receiver works."""
    before = _state(subscription)
    subscription.enabled = False
    subscription.disabled_at = timezone.now()
    subscription.disabled_reason = (
        f"disabled after {subscription.consecutive_failures} failed attempts in a row "
        f"(last: {last_error or 'unknown error'})"
    )[:500]
    subscription.save()
    _record(
        Actor.system("webhooks"),
        AuditAction.WEBHOOK_DISABLED,
        subscription,
        before=before,
        after=_state(subscription),
        comment=subscription.disabled_reason,
    )
    _cancel_pending(subscription, "the subscription was disabled after repeated failures")
    log.warning("webhook subscription %s: %s", subscription.name, subscription.disabled_reason)


def prune_deliveries(*, older_than: timedelta = timedelta(days=30)) -> int:
    """Forget finished deliveries (and their attempts) older than `older_than`; pending ones
    stay whatever their age. Returns how many were removed."""
    cutoff = timezone.now() - older_than
    _, removed = (
        Delivery.objects.filter(created_at__lt=cutoff)
        .exclude(status=DeliveryStatus.PENDING)
        .delete()
    )
    return removed.get(Delivery._meta.label, 0)


def due_deliveries(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is due and that nobody holds (for the sweep)."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
