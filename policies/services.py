"""Every write to policies goes through here: authorise -> validate -> save -> version -> audit.

Each public function is one transaction: the change, its new `PolicyVersion` and its audit
event commit together or not at all. Views, forms, the admin, the REST API, management
commands and Celery tasks call these functions and never write the models themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone

from policies import audit, events, fields, permissions, request_context, secrets
from policies.actors import Actor
from policies.documents import EDITABLE_FIELDS, api_state, document_from_state, rule_state
from policies.lint import Finding, Severity, lint_document
from policies.models import (
    MAX_AGE_HARD_CAP,
    AccessToken,
    ActorType,
    Api,
    AuditAction,
    AuditEvent,
    Environment,
    Mode,
    OriginRule,
    PolicyVersion,
    ServiceToken,
    slug_validator,
)
from policies.origins import OriginError, canonical_rule

DEFAULT_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
DEFAULT_REQUEST_HEADERS = ("accept", "authorization", "content-type")


class ServiceError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotPermitted(ServiceError):
    pass


class StaleVersion(ServiceError):
    def __init__(self, *, expected: int, current: int) -> None:
        super().__init__(
            f"the API changed since you loaded it (you had version {expected}, it is now "
            f"version {current}): reload and apply your change again"
        )
        self.expected = expected
        self.current = current


class ValidationFailed(ServiceError):
    """Input that cannot be saved; `errors` maps a field name to what is wrong with it."""

    def __init__(
        self, errors: Mapping[str, Sequence[str]], findings: Sequence[Finding] = ()
    ) -> None:
        self.errors = {name: list(messages) for name, messages in errors.items()}
        self.findings = list(findings)
        super().__init__(
            "; ".join(f"{name}: {' '.join(messages)}" for name, messages in self.errors.items())
        )


class ChangeRequestPending(ServiceError):
    """The change was not applied: it waits for approval in `change_request` (a
    `policies.models.ChangeRequest`, committed). `replanned` is true when an apply found the
    request's base stale and re-planned it instead: review its new diff and apply again."""

    def __init__(self, change_request: Any, *, replanned: bool = False) -> None:
        if replanned:
            message = (
                f"change request #{change_request.pk} was planned on an older version: it is "
                "re-planned against the current one; review the new diff and apply again"
            )
        else:
            message = (
                f"this change widens access to {change_request.api.slug}: it waits for "
                f"approval in change request #{change_request.pk}"
            )
        super().__init__(message)
        self.change_request = change_request
        self.replanned = replanned


@contextmanager
def _writing() -> Iterator[None]:
    """`transaction.atomic()` for a planned write: when the plan turns the write into a
    change request (`ChangeRequestPending` raised inside), what was written for the request
    (the request, its audit event) commits, the change itself is not made, and the exception
    is raised again once committed."""
    pending: ChangeRequestPending | None = None
    with transaction.atomic():
        try:
            yield
        except ChangeRequestPending as exc:
            pending = exc
    if pending is not None:
        raise pending


def _gate(
    *,
    actor: Actor,
    api: Api,
    before: dict[str, Any],
    after: dict[str, Any],
    comment: str,
    title: str,
) -> None:
    """Plan step of every policy write: raises `ChangeRequestPending` (after opening or
    editing a change request) when the change widens access where approval is needed."""
    from policies import change_requests

    change_requests.gate(
        actor=actor, api=api, before=before, after=after, comment=comment, title=title
    )


# --- helpers -------------------------------------------------------------------------------


def _check_origin_count(count: int, *, field: str) -> None:
    """Raise `ValidationFailed` on ``field`` when an API would hold more than
    ``CORSADMIN_MAX_ORIGINS_PER_API`` origin rules (every consumer reads them all on every
    poll; a list that long almost always wants a wildcard or a regex)."""
    from django.conf import settings

    limit = int(settings.CORSADMIN_MAX_ORIGINS_PER_API)
    if count > limit:
        raise ValidationFailed(
            {
                field: [
                    f"an API holds at most {limit} origin rules (CORSADMIN_MAX_ORIGINS_PER_API); "
                    f"this would make {count}: use a wildcard or a regex rule for a family "
                    "of origins"
                ]
            }
        )


def _person(actor: Actor) -> User | None:
    """Who a new object is "created by": the person, or the owner of the personal token
    they acted with (the audit event names the token); None for the system."""
    return actor.user if actor.type in (ActorType.USER, ActorType.TOKEN) else None


def _ownable(team: Group) -> None:
    # The read-only group is a role, not a team: an API it owned would be visible to every
    # read-only user of every team.
    if team.name == permissions.READ_ONLY_GROUP:
        raise ValidationFailed(
            {"team": [f"{team.name!r} is the read-only role, not a team: choose a team"]}
        )


def _authorise(actor: Actor, team: Group) -> None:
    if actor.type == ActorType.SYSTEM:
        return
    if actor.user is None or not permissions.can_edit_team(actor.user, team):
        raise NotPermitted(f"{actor.name} may not change APIs of team {team.name}")


def _clean_max_age(value: Any) -> int:
    return fields.clean_max_age(value, hard_cap=MAX_AGE_HARD_CAP)


def _clean_fields(changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    cleaners = {
        "methods": fields.clean_methods,
        "request_headers": fields.clean_header_names,
        "expose_headers": fields.clean_header_names,
        "paths": fields.clean_paths,
        "max_age": _clean_max_age,
    }
    choices = {"environment": Environment.values, "mode": Mode.values}
    for name, value in changes.items():
        if name not in EDITABLE_FIELDS:
            errors.setdefault(name, []).append(f"{name} is not a field that can be changed")
            continue
        try:
            if name in cleaners:
                value = cleaners[name](value)
            elif name in choices and value not in choices[name]:
                raise fields.FieldError(f"{value!r} is not one of: {', '.join(choices[name])}")
            elif name.startswith("allow_") and not isinstance(value, bool):
                raise fields.FieldError(f"{name} must be true or false")
            elif name == "name":
                value = str(value).strip()
                if not value:
                    raise fields.FieldError("a name is required")
                if len(value) > 200:
                    raise fields.FieldError("the name is longer than 200 characters")
            elif name == "description":
                value = str(value)
        except fields.FieldError as exc:
            errors.setdefault(name, []).append(exc.message)
            continue
        cleaned[name] = value
    return cleaned, errors


def _clean_rule(kind: str, value: str) -> str:
    try:
        return canonical_rule(kind, value)
    except OriginError as exc:
        raise ValidationFailed({"value": [exc.message]}) from None


def lint_status_of(findings: Iterable[Finding]) -> str:
    status = "ok"
    for finding in findings:
        if finding.severity == Severity.ERROR:
            return "error"
        # INFO findings (e.g. "a methods list cannot stop GET") are facts, not risks.
        if finding.severity == Severity.WARNING:
            status = "warning"
    return status


def check_state(state: dict[str, Any], *, version: int) -> list[Finding]:
    """Lint a state as it would be published; errors raise, warnings are returned."""
    document = document_from_state(state, version=version, updated_at=timezone.now())
    findings = lint_document(document, environment=state["environment"])
    errors = [finding for finding in findings if finding.severity == Severity.ERROR]
    if errors:
        by_field: dict[str, list[str]] = {}
        for finding in errors:
            by_field.setdefault(finding.field, []).append(f"{finding.message} {finding.fix}")
        raise ValidationFailed(by_field, findings)
    return findings


def _lock(api: Api, expected_version: int | None) -> Api:
    locked = Api.objects.select_for_update().select_related("team").get(pk=api.pk)
    if expected_version is not None and expected_version != locked.version:
        raise StaleVersion(expected=expected_version, current=locked.version)
    return locked


def _api_fields(state: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in state.items() if key != "origins"}


def _new_version(
    *,
    api: Api,
    actor: Actor,
    action: AuditAction,
    comment: str,
    object_type: str,
    object_id: str | int,
    object_repr: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    first: bool = False,
    findings: list[Finding] | None = None,
) -> AuditEvent:
    """Bump the version, snapshot it and record the event: the tail of every policy write.

    `findings` are those `check_state` found for the new state, when the caller linted it.
    """
    if not first:
        api.version += 1
    state = api_state(api)
    if findings is None:
        findings = lint_document(
            document_from_state(state, version=api.version, updated_at=timezone.now()),
            environment=api.environment,
        )
    api.lint_status = lint_status_of(findings)
    if actor.type == ActorType.USER:
        api.updated_by_id = actor.id
        api.updated_by_label = ""
    else:
        api.updated_by_id = None
        api.updated_by_label = actor.name[:150]
    api.save()
    PolicyVersion.objects.create(
        api=api,
        version=api.version,
        state=state,
        actor_name=actor.name[:150],
        comment=comment,
    )
    event = audit.record(
        actor=actor,
        action=action,
        api_id=api.pk,
        api_slug=api.slug,
        api_version=api.version,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        before=before,
        after=after,
        comment=comment,
    )
    events.policy_published(api, event)
    _after_commit(api)
    return event


def _after_commit(api: Api) -> None:
    from policies import outbox

    # In this transaction: the new version cannot commit without its way to Redis.
    outbox.enqueue_document(api)


# --- APIs ----------------------------------------------------------------------------------


def create_api(
    *,
    actor: Actor,
    slug: str,
    name: str,
    team: Group,
    origins: Iterable[Mapping[str, Any]] = (),
    comment: str = "",
    **settings: Any,
) -> Api:
    _authorise(actor, team)
    _ownable(team)
    defaults: dict[str, Any] = {
        "description": "",
        "environment": Environment.DEVELOPMENT,
        "mode": Mode.ENFORCE,
        "paths": "",
        "methods": list(DEFAULT_METHODS),
        "request_headers": list(DEFAULT_REQUEST_HEADERS),
        "expose_headers": [],
        "allow_credentials": False,
        "max_age": 600,
        "allow_private_network": False,
        "allow_null": False,
        "allow_all": False,
    }
    origins = list(origins)
    _check_origin_count(len(origins), field="origins")
    cleaned, errors = _clean_fields({**defaults, **settings, "name": name})
    slug = (slug or "").strip()
    try:
        slug_validator(slug)
    except Exception as exc:  # django ValidationError carries the message
        errors.setdefault("slug", []).append(" ".join(getattr(exc, "messages", [str(exc)])))
    rules: list[OriginRule] = []
    for index, spec in enumerate(origins):
        kind = str(spec.get("kind", "exact"))
        try:
            value = canonical_rule(kind, str(spec.get("value", "")))
        except OriginError as exc:
            errors.setdefault(f"origins[{index}]", []).append(exc.message)
            continue
        rules.append(
            OriginRule(
                kind=kind,
                value=value,
                note=str(spec.get("note", ""))[:500],
                enabled=bool(spec.get("enabled", True)),
                expires_at=spec.get("expires_at"),
                created_by=_person(actor),
            )
        )
    if errors:
        raise ValidationFailed(errors)
    if len({(r.kind, r.value) for r in rules}) != len(rules):
        raise ValidationFailed({"origins": ["the same origin rule is listed twice"]})

    api = Api(slug=slug, team=team, **cleaned)
    requested = api_state(api, rules)
    held_for_approval = _creation_needs_approval(actor, requested)
    if held_for_approval and not comment.strip():
        raise ValidationFailed(
            {"comment": [f"say why: changes to {cleaned['environment']} APIs are reviewed"]}
        )
    if held_for_approval:
        # Where widening needs a second person, a new API starts closed (no origin, nothing
        # switched on) and what was asked for waits in a change request on it: creating (or
        # deleting and re-creating) an API is no way around the approval.
        for name, value in _CLOSED.items():
            setattr(api, name, value)
        rules = []
    findings = check_state(api_state(api, rules), version=1)
    with transaction.atomic():
        taken = Api.objects.filter(slug=slug).first()
        if taken is not None:
            # Whether another team has an API of that name is not the actor's to learn: the
            # same words as for a slug that was never used but cannot be had.
            mine = actor.user is not None and permissions.can_view(actor.user, taken)
            raise ValidationFailed(
                {
                    "slug": [
                        f"you already have an API {slug!r}"
                        if mine
                        else f"the slug {slug!r} is not available: choose another"
                    ]
                }
            )
        api.created_by = _person(actor)
        api.save()
        for rule in rules:
            rule.api = api
        OriginRule.objects.bulk_create(rules)
        _new_version(
            findings=findings,
            api=api,
            actor=actor,
            action=AuditAction.API_CREATED,
            comment=comment,
            object_type="api",
            object_id=api.pk,
            object_repr=api.slug,
            before=None,
            after=api_state(api),
            first=True,
        )
    if held_for_approval:
        from policies import change_requests

        # Raises ChangeRequestPending: the API exists, closed, with its request open.
        change_requests.replace_policy(
            actor=actor,
            api=api,
            make_after=lambda before: requested,
            comment=comment,
            title=f"create {slug} with its policy",
            object_repr=slug,
        )
    return api


# What a new API holds while its requested policy waits for approval: it lets no one in.
_CLOSED: dict[str, Any] = {
    "mode": Mode.ENFORCE,
    "allow_all": False,
    "allow_null": False,
    "allow_credentials": False,
    "allow_private_network": False,
}


def _creation_needs_approval(actor: Actor, requested: dict[str, Any]) -> bool:
    """True when a person creates an API whose requested policy widens access (compared with
    a closed one) in an environment whose widening changes need approval."""
    from policies import change_requests

    if actor.type == ActorType.SYSTEM:
        return False
    closed = {**requested, **_CLOSED, "origins": []}
    return bool(change_requests.needs_approval(closed, requested))


def update_api(
    *,
    actor: Actor,
    api: Api,
    expected_version: int | None = None,
    comment: str = "",
    team: Group | None = None,
    **changes: Any,
) -> Api:
    _authorise(actor, api.team)
    if team is not None:
        _authorise(actor, team)
        _ownable(team)
    cleaned, errors = _clean_fields(changes)
    if errors:
        raise ValidationFailed(errors)
    with _writing():
        locked = _lock(api, expected_version)
        rules = list(locked.origins.all())
        before = api_state(locked, rules)
        for name, value in cleaned.items():
            setattr(locked, name, value)
        if team is not None:
            locked.team = team
        after = api_state(locked, rules)
        if after == before:
            return locked
        findings = check_state(after, version=locked.version + 1)
        _gate(
            actor=actor,
            api=locked,
            before=before,
            after=after,
            comment=comment,
            title=f"change settings of {locked.slug}",
        )
        _new_version(
            findings=findings,
            api=locked,
            actor=actor,
            action=AuditAction.API_UPDATED,
            comment=comment,
            object_type="api",
            object_id=locked.pk,
            object_repr=locked.slug,
            before=_api_fields(before),
            after=_api_fields(after),
        )
    return locked


def delete_api(
    *, actor: Actor, api: Api, expected_version: int | None = None, comment: str = ""
) -> None:
    _authorise(actor, api.team)
    from policies import change_requests

    change_requests.require_why(actor=actor, api=api, comment=comment)
    with transaction.atomic():
        locked = _lock(api, expected_version)
        before = api_state(locked)
        api_id, slug, version = locked.pk, locked.slug, locked.version
        # Tokens' cached scopes name the slug: drop them, or for up to a minute they would
        # read an API another team creates under the same slug.
        digests = list(locked.service_tokens.values_list("digest", flat=True))
        locked.delete()
        audit.record(
            actor=actor,
            action=AuditAction.API_DELETED,
            api_id=api_id,
            api_slug=slug,
            api_version=version,
            object_type="api",
            object_id=api_id,
            object_repr=slug,
            before=before,
            after=None,
            comment=comment,
        )
        from policies import outbox

        outbox.enqueue_tokens(digests)
        outbox.enqueue_deleted(api_id=api_id, slug=slug)


# --- origin rules ----------------------------------------------------------------------------


def add_origin(
    *,
    actor: Actor,
    api: Api,
    value: str,
    kind: str = "exact",
    note: str = "",
    enabled: bool = True,
    expires_at: datetime | None = None,
    expected_version: int | None = None,
    comment: str = "",
) -> OriginRule:
    _authorise(actor, api.team)
    canonical = _clean_rule(kind, value)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed({"expires_at": ["the expiry is in the past"]})
    with _writing():
        locked = _lock(api, expected_version)
        rules = list(locked.origins.all())
        _check_origin_count(len(rules) + 1, field="value")
        if any(r.kind == kind and r.value == canonical for r in rules):
            raise ValidationFailed({"value": [f"{canonical} is already listed"]})
        rule = OriginRule(
            api=locked,
            kind=kind,
            value=canonical,
            note=note[:500],
            enabled=enabled,
            expires_at=expires_at,
            created_by=_person(actor),
        )
        findings = check_state(api_state(locked, [*rules, rule]), version=locked.version + 1)
        _gate(
            actor=actor,
            api=locked,
            before=api_state(locked, rules),
            after=api_state(locked, [*rules, rule]),
            comment=comment,
            title=f"add {kind} origin {canonical}",
        )
        try:
            with transaction.atomic():
                rule.save()
        except IntegrityError:
            raise ValidationFailed({"value": [f"{canonical} is already listed"]}) from None
        _new_version(
            findings=findings,
            api=locked,
            actor=actor,
            action=AuditAction.ORIGIN_ADDED,
            comment=comment,
            object_type="origin",
            object_id=rule.pk,
            object_repr=f"{kind} {canonical}",
            before=None,
            after=rule_state(rule),
        )
    return rule


_RULE_FIELDS = ("kind", "value", "note", "enabled", "expires_at")


def update_origin(
    *,
    actor: Actor,
    rule: OriginRule,
    expected_version: int | None = None,
    comment: str = "",
    **changes: Any,
) -> OriginRule:
    unknown = set(changes) - set(_RULE_FIELDS)
    if unknown:
        raise ValidationFailed(
            {name: [f"{name} is not a field of an origin rule"] for name in unknown}
        )
    _authorise(actor, rule.api.team)
    expires_at = changes.get("expires_at")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed({"expires_at": ["the expiry is in the past"]})
    kind = changes.get("kind", rule.kind)
    value = _clean_rule(kind, changes.get("value", rule.value))
    with _writing():
        locked = _lock(rule.api, expected_version)
        current = OriginRule.objects.select_for_update().get(pk=rule.pk, api=locked)
        before = rule_state(current)
        current.kind, current.value = kind, value
        if "note" in changes:
            current.note = str(changes["note"])[:500]
        if "enabled" in changes:
            current.enabled = bool(changes["enabled"])
        if "expires_at" in changes:
            current.expires_at = changes["expires_at"]
        after = rule_state(current)
        if after == before:
            return current
        others = [r for r in locked.origins.all() if r.pk != current.pk]
        if any(r.kind == kind and r.value == value for r in others):
            raise ValidationFailed({"value": [f"{value} is already listed"]})
        findings = check_state(api_state(locked, [*others, current]), version=locked.version + 1)
        _gate(
            actor=actor,
            api=locked,
            before=api_state(locked),
            after=api_state(locked, [*others, current]),
            comment=comment,
            title=f"change origin {before['kind']} {before['value']}",
        )
        current.save()
        _new_version(
            findings=findings,
            api=locked,
            actor=actor,
            action=AuditAction.ORIGIN_CHANGED,
            comment=comment,
            object_type="origin",
            object_id=current.pk,
            object_repr=f"{current.kind} {current.value}",
            before=before,
            after=after,
        )
    return current


def remove_origin(
    *,
    actor: Actor,
    rule: OriginRule,
    expected_version: int | None = None,
    comment: str = "",
    action: AuditAction = AuditAction.ORIGIN_REMOVED,
) -> None:
    _authorise(actor, rule.api.team)
    with transaction.atomic():
        locked = _lock(rule.api, expected_version)
        current = OriginRule.objects.select_for_update().get(pk=rule.pk, api=locked)
        before = rule_state(current)
        rule_id = current.pk
        _gate(
            actor=actor,
            api=locked,
            before=api_state(locked),
            after=api_state(locked, [r for r in locked.origins.all() if r.pk != rule_id]),
            comment=comment,
            title=f"remove origin {before['kind']} {before['value']}",
        )
        current.delete()
        _new_version(
            api=locked,
            actor=actor,
            action=action,
            comment=comment,
            object_type="origin",
            object_id=rule_id,
            object_repr=f"{before['kind']} {before['value']}",
            before=before,
            after=None,
        )


def expire_origins(*, now: datetime | None = None) -> int:
    """Remove temporary origins whose time is up; one audited event each, by the system."""
    now = now or timezone.now()
    actor = Actor.system("expiry")
    expired = 0
    for rule in OriginRule.objects.filter(expires_at__lte=now).select_related("api__team"):
        try:
            remove_origin(
                actor=actor,
                rule=rule,
                comment=f"expired at {rule.expires_at:%Y-%m-%d %H:%M} UTC",
                action=AuditAction.ORIGIN_EXPIRED,
            )
        except (OriginRule.DoesNotExist, Api.DoesNotExist):
            continue  # removed by someone else in the meantime
        expired += 1
    return expired


# --- history ---------------------------------------------------------------------------------


def rollback(
    *,
    actor: Actor,
    api: Api,
    to_version: int,
    expected_version: int | None = None,
    comment: str = "",
) -> Api:
    """Make a new version whose state is that of `to_version` (history is never rewritten)."""
    _authorise(actor, api.team)
    with _writing():
        locked = _lock(api, expected_version)
        target = PolicyVersion.objects.filter(api=locked, version=to_version).first()
        if target is None:
            raise ValidationFailed({"version": [f"{locked.slug} has no version {to_version}"]})
        before = api_state(locked)
        now = timezone.now()
        restored_rules = [
            OriginRule(
                api=locked,
                kind=spec["kind"],
                value=spec["value"],
                note=spec["note"],
                enabled=spec["enabled"],
                expires_at=datetime.fromisoformat(spec["expires_at"])
                if spec["expires_at"]
                else None,
            )
            for spec in target.state["origins"]
        ]
        # An origin whose temporary allowance has run out stays expired.
        restored_rules = [r for r in restored_rules if r.expires_at is None or r.expires_at > now]
        _check_origin_count(len(restored_rules), field="origins")
        for name in EDITABLE_FIELDS:
            setattr(locked, name, target.state[name])
        after = api_state(locked, restored_rules)
        findings = check_state(after, version=locked.version + 1)
        _gate(
            actor=actor,
            api=locked,
            before=before,
            after=after,
            comment=comment,
            title=f"roll {locked.slug} back to version {to_version}",
        )
        locked.origins.all().delete()
        OriginRule.objects.bulk_create(restored_rules)
        _new_version(
            findings=findings,
            api=locked,
            actor=actor,
            action=AuditAction.ROLLBACK,
            comment=comment or f"rolled back to version {to_version}",
            object_type="api",
            object_id=locked.pk,
            object_repr=f"{locked.slug} -> v{to_version}",
            before=before,
            after=after,
        )
    return locked


# --- tokens ----------------------------------------------------------------------------------


def _token_state(token: ServiceToken, apis: Sequence[Api], seen_from: Api | None) -> dict[str, Any]:
    """The token as an event about `seen_from` records it. Whoever can see that API's events
    sees the token's other APIs of the same team by name, and only a count of the rest:
    another team's API names are not theirs to learn."""
    same_team = [a for a in apis if seen_from is None or a.team_id == seen_from.team_id]
    return {
        "name": token.name,
        "prefix": token.prefix,
        "apis": sorted(a.slug for a in same_team),
        "other_teams_apis": len(apis) - len(same_team),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def issue_service_token(
    *,
    actor: Actor,
    name: str,
    apis: Sequence[Api],
    expires_at: datetime | None = None,
    comment: str = "",
) -> tuple[ServiceToken, str]:
    """Returns the token and its secret; the secret is not stored and cannot be shown again."""
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["a name is required (which service uses this token?)"]
    elif len(name) > 100:
        errors["name"] = ["the name is longer than 100 characters"]
    if not apis:
        errors["apis"] = ["a token must be scoped to at least one API"]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["the expiry is in the past"]
    if errors:
        raise ValidationFailed(errors)
    for api in apis:
        _authorise(actor, api.team)
    new = secrets.new_secret(secrets.SERVICE_PREFIX)
    with transaction.atomic():
        token = ServiceToken.objects.create(
            name=name,
            prefix=new.prefix,
            digest=new.digest,
            expires_at=expires_at,
            created_by=_person(actor),
        )
        token.apis.set(apis)
        for api in apis:
            audit.record(
                actor=actor,
                action=AuditAction.TOKEN_ISSUED,
                api_id=api.pk,
                api_slug=api.slug,
                api_version=api.version,
                object_type="service_token",
                object_id=token.pk,
                object_repr=str(token),
                after=_token_state(token, apis, api),
                comment=comment,
            )
        events.token_changed("token.issued", token=token, apis=apis, actor=actor, comment=comment)
    return token, new.secret


def revoke_service_token(*, actor: Actor, token: ServiceToken, comment: str = "") -> None:
    apis = list(token.apis.select_related("team"))
    for api in apis:
        _authorise(actor, api.team)
    if (
        not apis
        and actor.type != ActorType.SYSTEM
        and not getattr(actor.user, "is_superuser", False)
    ):
        raise NotPermitted("only a superuser may revoke a token whose APIs are gone")
    with transaction.atomic():
        current = ServiceToken.objects.select_for_update().get(pk=token.pk)
        if current.revoked_at is not None:
            return
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
        targets: list[Api | None] = [*apis] if apis else [None]
        for api_or_none in targets:
            audit.record(
                actor=actor,
                action=AuditAction.TOKEN_REVOKED,
                api_id=api_or_none.pk if api_or_none else None,
                api_slug=api_or_none.slug if api_or_none else "",
                api_version=api_or_none.version if api_or_none else None,
                object_type="service_token",
                object_id=current.pk,
                object_repr=str(current),
                before={**_token_state(current, apis, api_or_none), "revoked_at": None},
                after=_token_state(current, apis, api_or_none),
                comment=comment,
            )
        events.token_changed(
            "token.revoked", token=current, apis=apis, actor=actor, comment=comment
        )
        from policies import outbox

        # With the revocation: every central process refuses the token within
        # CORSADMIN_DB_CHECK_SECONDS, Redis up or down (policies.freshness).
        outbox.enqueue_tokens([current.digest])
    token.revoked_at = current.revoked_at


def issue_access_token(
    *,
    actor: Actor,
    user: User,
    name: str,
    expires_at: datetime | None = None,
    comment: str = "",
) -> tuple[AccessToken, str]:
    """A personal access token acting as `user`; people issue their own, the system any."""
    if actor.type != ActorType.SYSTEM and (actor.user is None or actor.user.pk != user.pk):
        raise NotPermitted("people issue personal access tokens only for themselves")
    name = (name or "").strip() or "personal access token"
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed({"expires_at": ["the expiry is in the past"]})
    new = secrets.new_secret(secrets.PERSONAL_PREFIX)
    with transaction.atomic():
        token = AccessToken.objects.create(
            user=user, name=name[:100], prefix=new.prefix, digest=new.digest, expires_at=expires_at
        )
        audit.record(
            actor=actor,
            action=AuditAction.TOKEN_ISSUED,
            object_type="access_token",
            object_id=token.pk,
            object_repr=f"{token} for {user.get_username()}",
            after={"name": token.name, "prefix": token.prefix, "user": user.get_username()},
            comment=comment,
        )
    return token, new.secret


def revoke_access_token(*, actor: Actor, token: AccessToken, comment: str = "") -> None:
    is_owner = actor.user is not None and actor.user.pk == token.user_id
    if (
        actor.type != ActorType.SYSTEM
        and not is_owner
        and not getattr(actor.user, "is_superuser", False)
    ):
        raise NotPermitted("only the token's owner or a superuser may revoke it")
    with transaction.atomic():
        current = AccessToken.objects.select_for_update().get(pk=token.pk)
        if current.revoked_at is not None:
            return
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor,
            action=AuditAction.TOKEN_REVOKED,
            object_type="access_token",
            object_id=current.pk,
            object_repr=str(current),
            before={"revoked_at": None},
            after={"revoked_at": current.revoked_at.isoformat()},
            comment=comment,
        )
    token.revoked_at = current.revoked_at


# --- authentication events ---------------------------------------------------------------------


def record_auth_event(*, action: AuditAction, username: str, request: HttpRequest | None) -> None:
    """A failed login or a lockout, attributed to the name tried and the client address."""
    actor = Actor.system("anonymous")
    if request is not None:
        actor = Actor(
            type=ActorType.SYSTEM,
            name="anonymous",
            ip=request_context.client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:512],
            request_id=actor.request_id,
        )
    with transaction.atomic():
        audit.record(
            actor=actor,
            action=action,
            object_type="user",
            object_repr=username,
            after={"username": username},
        )


# --- consumer telemetry ----------------------------------------------------------------------

MAX_REPORT_HEARTBEATS = 50
MAX_REPORT_REFUSALS = 500
# The largest count a PositiveBigIntegerField (PostgreSQL bigint) holds.
MAX_COUNT = 2**63 - 1
_MAX_AGE_SECONDS = 10.0**12
# NUL and the surrogate code points (lone halves: JSON's "\\ud800" decodes to one).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """What `record_consumer_report` did with a report.

    ``stored``: heartbeats and refusal counters written; ``ignored``: malformed entries or
    entries for APIs outside the token's scope; ``limited``: entries refused because the
    API is at a storage limit, with ``detail`` saying which limit (empty when none).
    """

    stored: int
    ignored: int
    limited: int = 0
    detail: list[str] = field(default_factory=list)


def _text(value: Any, limit: int) -> str:
    """A reported string, made storable: NUL (which PostgreSQL text cannot hold) and lone
    surrogates (which UTF-8 cannot encode) become U+FFFD, so one odd ``Origin`` a consumer
    saw cannot make the whole report fail."""
    if value is None:
        return ""
    return _UNSTORABLE.sub("\ufffd", str(value)[:limit])


def _telemetry_limits() -> tuple[int, int]:
    from django.conf import settings

    return (
        int(settings.CORSADMIN_TELEMETRY_MAX_ORIGINS),
        int(settings.CORSADMIN_TELEMETRY_MAX_INSTANCES),
    )


def record_consumer_report(
    *,
    token_id: int | None,
    token_name: str,
    apis: frozenset[str],
    payload: Any,
    now: datetime | None = None,
) -> ReportOutcome:
    """Store one consumer report (heartbeats + refused counts).

    ``payload`` is the JSON object consumers send (``instance``, ``service``, ``heartbeat``
    and ``refused`` lists; see policies/consumer/client.py). Entries for APIs outside
    ``apis`` (the token's scope) are ignored, as are malformed ones; strings are made
    storable (`_text`). What one token can store is bounded: per API, at most
    ``CORSADMIN_TELEMETRY_MAX_ORIGINS`` distinct (origin, reason) counters per hour and
    ``CORSADMIN_TELEMETRY_MAX_INSTANCES`` consumer instances; counts for counters that
    already exist are always added, new ones past a limit are refused (``limited``).

    Raises `ValidationFailed` (nothing stored) for a report that is not an object, has no
    instance id, too many entries, or a count no consumer can have counted (≥ 2**63).
    Telemetry is not audited: it changes no policy.
    """
    from policies.models import ConsumerInstance, RefusedOrigin

    if not isinstance(payload, Mapping):
        raise ValidationFailed({"report": ["a report is a JSON object"]})
    instance = _text(payload.get("instance"), 200).strip()
    if not instance:
        raise ValidationFailed({"instance": ["an instance id is required"]})
    heartbeats = payload.get("heartbeat") or []
    refusals = payload.get("refused") or []
    if not isinstance(heartbeats, list) or not isinstance(refusals, list):
        raise ValidationFailed({"report": ["heartbeat and refused are lists"]})
    if len(heartbeats) > MAX_REPORT_HEARTBEATS or len(refusals) > MAX_REPORT_REFUSALS:
        raise ValidationFailed({"report": ["too many entries in one report"]})
    too_large = [
        f"refused[{index}].count"
        for index, item in enumerate(refusals)
        if isinstance(item, Mapping)
        and isinstance(item.get("count"), int)
        and item["count"] > MAX_COUNT
    ]
    if too_large:
        message = f"a count is a whole number from 1 to {MAX_COUNT}"
        raise ValidationFailed({name: [message] for name in too_large})
    now = now or timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    service = _text(payload.get("service"), 100).strip() or token_name[:100]
    by_slug = {api.slug: api for api in Api.objects.filter(slug__in=apis)}
    max_origins, max_instances = _telemetry_limits()
    ignored = 0

    instances: list[ConsumerInstance] = []
    for beat in heartbeats:
        api = by_slug.get(str(beat.get("api"))) if isinstance(beat, Mapping) else None
        if api is None or not isinstance(beat, Mapping):
            ignored += 1
            continue
        version, age = beat.get("version"), beat.get("age")
        instances.append(
            ConsumerInstance(
                instance=instance,
                api=api,
                service=service,
                token_id=token_id,
                version=version if isinstance(version, int) and 0 <= version <= MAX_COUNT else None,
                etag=_text(beat.get("etag"), 100),
                # What no consumer can mean is stored as unknown, not shown to people.
                mode=beat["mode"] if beat.get("mode") in Mode.values else "",
                age_seconds=float(age)
                if isinstance(age, int | float)
                and not isinstance(age, bool)
                and 0 <= age <= _MAX_AGE_SECONDS
                else None,
                stale=bool(beat.get("stale")),
                source=_text(beat.get("source"), 16),
                last_error=_text(beat.get("last_error"), 500),
                last_seen=now,
            )
        )

    counts: dict[tuple[int, str, str], tuple[int, str]] = {}
    for item in refusals:
        api = by_slug.get(str(item.get("api"))) if isinstance(item, Mapping) else None
        count = item.get("count") if isinstance(item, Mapping) else None
        if api is None or not isinstance(count, int) or isinstance(count, bool) or count <= 0:
            ignored += 1
            continue
        assert isinstance(item, Mapping)
        key = (api.pk, _text(item.get("origin"), 300), _text(item.get("reason"), 40))
        previous = counts.get(key, (0, ""))
        counts[key] = (
            min(previous[0] + count, MAX_COUNT),
            _text(item.get("sample"), 300) or previous[1],
        )

    slugs = {api.pk: api.slug for api in by_slug.values()}
    detail: list[str] = []
    for attempt in range(2):
        try:
            with transaction.atomic():
                kept = _admit_instances(
                    ConsumerInstance, instances, limit=max_instances, slugs=slugs, detail=detail
                )
                if kept:
                    ConsumerInstance.objects.bulk_create(
                        kept,
                        update_conflicts=True,
                        unique_fields=["instance", "api"],
                        update_fields=[
                            "service",
                            "token",
                            "version",
                            "etag",
                            "mode",
                            "age_seconds",
                            "stale",
                            "source",
                            "last_error",
                            "last_seen",
                        ],
                    )
                added = 0
                if counts:
                    added = _add_refusals(
                        RefusedOrigin,
                        counts,
                        hour=hour,
                        now=now,
                        limit=max_origins,
                        slugs=slugs,
                        detail=detail,
                    )
            break
        except IntegrityError:
            detail.clear()
            if attempt:
                raise
    limited = len(instances) - len(kept) + len(counts) - added
    return ReportOutcome(stored=len(kept) + added, ignored=ignored, limited=limited, detail=detail)


def _admit_instances(
    model: Any,
    instances: list[Any],
    *,
    limit: int,
    slugs: Mapping[int, str],
    detail: list[str],
) -> list[Any]:
    """The heartbeats that may be stored: instances already known always, new ones while
    their API has fewer than ``limit`` instances (rows are pruned after a week of silence)."""
    if not instances:
        return []
    api_ids = {beat.api_id for beat in instances}
    known = set(
        model.objects.filter(api_id__in=api_ids, instance=instances[0].instance).values_list(
            "api_id", flat=True
        )
    )
    totals = dict(
        model.objects.filter(api_id__in=api_ids)
        .values("api_id")
        .annotate(n=Count("pk"))
        .values_list("api_id", "n")
    )
    kept = []
    for beat in instances:
        if beat.api_id in known or totals.get(beat.api_id, 0) < limit:
            kept.append(beat)
            if beat.api_id not in known:
                totals[beat.api_id] = totals.get(beat.api_id, 0) + 1
        else:
            detail.append(
                f"{slugs.get(beat.api_id, beat.api_id)} already has {limit} consumer "
                "instances (CORSADMIN_TELEMETRY_MAX_INSTANCES): this instance's heartbeat "
                "is not stored"
            )
    return kept


def _add_refusals(
    model: Any,
    counts: Mapping[tuple[int, str, str], tuple[int, str]],
    *,
    hour: datetime,
    now: datetime,
    limit: int,
    slugs: Mapping[int, str],
    detail: list[str],
) -> int:
    """Add to this hour's counters (rows locked, so concurrent reports never lose counts).

    Existing counters always grow (saturating at `MAX_COUNT`); a new (origin, reason)
    counter is created while its API has fewer than ``limit`` of them this hour, the rest
    are refused and named in ``detail``. Returns how many counters were written. (Two
    reports racing at the limit may overshoot it by one report's new counters.)
    """
    existing = {
        (row.api_id, row.origin, row.reason): row
        for row in model.objects.select_for_update().filter(
            hour=hour,
            api_id__in={key[0] for key in counts},
            origin__in={key[1] for key in counts},
        )
    }
    totals = dict(
        model.objects.filter(hour=hour, api_id__in={key[0] for key in counts})
        .values("api_id")
        .annotate(n=Count("pk"))
        .values_list("api_id", "n")
    )
    changed, new = [], []
    refused: dict[int, int] = {}
    for (api_id, origin, reason), (count, sample) in counts.items():
        row = existing.get((api_id, origin, reason))
        if row is None:
            if totals.get(api_id, 0) >= limit:
                refused[api_id] = refused.get(api_id, 0) + 1
                continue
            totals[api_id] = totals.get(api_id, 0) + 1
            new.append(
                model(
                    api_id=api_id,
                    origin=origin,
                    reason=reason,
                    hour=hour,
                    count=count,
                    sample=sample,
                    last_seen=now,
                )
            )
        else:
            row.count = min(row.count + count, MAX_COUNT)
            row.last_seen = now
            row.sample = sample or row.sample
            changed.append(row)
    if changed:
        model.objects.bulk_update(changed, ["count", "last_seen", "sample"])
    if new:
        model.objects.bulk_create(new)
    for api_id, number in refused.items():
        detail.append(
            f"{slugs.get(api_id, api_id)} already has {limit} distinct refused origins this "
            f"hour (CORSADMIN_TELEMETRY_MAX_ORIGINS): {number} new ones not stored; counts "
            "of origins already listed are still added"
        )
    return len(changed) + len(new)


def prune_telemetry(
    *,
    now: datetime | None = None,
    refusals_for: timedelta = timedelta(days=30),
    instances_for: timedelta = timedelta(days=7),
) -> tuple[int, int]:
    """Drop refusal counts older than `refusals_for` and consumer instances silent for longer
    than `instances_for` (telemetry, not policy: not audited). Returns what was removed."""
    from policies.models import ConsumerInstance, RefusedOrigin

    now = now or timezone.now()
    refusals, _ = RefusedOrigin.objects.filter(hour__lt=now - refusals_for).delete()
    instances, _ = ConsumerInstance.objects.filter(last_seen__lt=now - instances_for).delete()
    return refusals, instances
