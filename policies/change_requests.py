"""Change requests: widening changes that wait for a second person (services and selectors).

The write services of `policies.services` plan every policy change and call `gate`: where
the API's environment needs approval (`CORSADMIN_APPROVALS`, production=1 by default) and
the change widens access (`policies.planning.widening_reasons`), the change is not made; a
`ChangeRequest` holds it instead, and `services.ChangeRequestPending` tells the caller.
Narrowing changes apply at once.

Then: `approve` (a team editor other than the author; the last needed approval applies it,
or leaves it for `apply_scheduled` when a time is set), `reject` (with a reason),
`withdraw` (the author), `apply` (re-plans against the current version first: a stale base
is re-planned, its new diff shown, and nothing applied until someone applies again), and
break-glass (`apply(..., break_glass=reason)`, superusers: at once, marked in the audit).
Each step is one transaction with its audit event (`policies.audit`, hash-chained) and a
call to `policies.events.emit` for webhooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from policies import audit, events, permissions, planning, services
from policies.actors import Actor
from policies.audit import field_diff
from policies.documents import EDITABLE_FIELDS, api_state, document_from_state
from policies.lint import Finding, lint_document
from policies.models import (
    ActorType,
    Api,
    AuditAction,
    ChangeRequest,
    ChangeRequestApproval,
    ChangeRequestComment,
    Environment,
    OriginRule,
)
from policies.models import ChangeRequestState as State
from policies.services import ChangeRequestPending, NotPermitted, ValidationFailed

PENDING = (State.OPEN, State.APPROVED)


def approvals_config() -> dict[str, int]:
    """`CORSADMIN_APPROVALS` as `{environment: approvals}` (the one place it is read)."""
    return planning.parse_approvals(settings.CORSADMIN_APPROVALS, known=tuple(Environment.values))


def _finding(finding: Finding) -> dict[str, str]:
    return {key: str(value) for key, value in asdict(finding).items()}


def _plan(before: dict[str, Any], after: dict[str, Any], *, version: int) -> dict[str, Any]:
    document = document_from_state(after, version=version, updated_at=timezone.now())
    return {
        "diff": field_diff(_without_identity(before), _without_identity(after)),
        "widens": planning.widening_reasons(
            before, after, now=timezone.now(), approvals=approvals_config()
        ),
        "findings": [
            _finding(f) for f in lint_document(document, environment=after["environment"])
        ],
    }


def _without_identity(state: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in state.items() if key != "slug"}


def _record(
    *,
    actor: Actor,
    action: AuditAction,
    request: ChangeRequest,
    comment: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    api = request.api
    audit.record(
        actor=actor,
        action=action,
        api_id=api.pk,
        api_slug=api.slug,
        api_version=api.version,
        object_type="change_request",
        object_id=request.pk,
        object_repr=f"#{request.pk} {request.title}"[:1000],
        before=before,
        after=after,
        comment=comment,
    )


def _summary(request: ChangeRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "state": request.state,
        "title": request.title,
        "author": request.author_name,
        "base_version": request.base_version,
        "approvals": request.approvals.count(),
        "approvals_needed": request.approvals_needed,
        "widens": request.plan.get("widens", []),
    }


def _note(request: ChangeRequest, actor: Actor, kind: str, text: str) -> None:
    ChangeRequestComment.objects.create(
        change_request=request, author_name=actor.name[:150], kind=kind, text=text
    )


# --- the gate (called by the write services) ---------------------------------------------------


def require_why(
    *, actor: Actor, api: Api, comment: str, environments: tuple[str, ...] = ()
) -> None:
    """Every change by a person to an API whose environment (or, for a change that moves it,
    either of `environments`) needs approval says why. Raises `ValidationFailed` on
    `comment` otherwise (system actors are exempt)."""
    config = approvals_config()
    if actor.type == ActorType.SYSTEM or not any(
        config.get(name, 0) for name in (environments or (api.environment,))
    ):
        return
    if not comment.strip():
        raise ValidationFailed(
            {
                "comment": [
                    f"say why: every change to {api.slug} needs a reason (its environment "
                    "needs approval for changes that widen access)"
                ]
            }
        )


def gate(
    *,
    actor: Actor,
    api: Api,
    before: dict[str, Any],
    after: dict[str, Any],
    comment: str,
    title: str,
) -> None:
    """Let the write through, or hold it in a change request and raise `ChangeRequestPending`.

    `api` is locked by the caller (inside its transaction); `before`/`after` are states
    (`documents.api_state`). System actors (scheduled tasks, management commands) pass.
    Raises `ValidationFailed` when the environment needs approval and `comment` (the "why")
    is empty: every change to such an API says why, narrowing ones too.
    """
    if actor.type == ActorType.SYSTEM:
        return
    needed = planning.approvals_needed(before, after, approvals_config())
    if needed == 0:
        return
    require_why(
        actor=actor,
        api=api,
        comment=comment,
        environments=(before["environment"], after["environment"]),
    )
    if not planning.widening_reasons(
        before, after, now=timezone.now(), approvals=approvals_config()
    ):
        return
    user = actor.user
    existing = None
    if user is not None:
        existing = (
            ChangeRequest.objects.select_for_update()
            .filter(api=api, author=user, state__in=PENDING)
            .order_by("-pk")
            .first()
        )
    if existing is not None:
        _fold(existing, actor=actor, api=api, before=before, after=after, comment=comment)
        raise ChangeRequestPending(existing)
    request = ChangeRequest.objects.create(
        api=api,
        title=title[:300],
        author=user,
        author_name=actor.name[:150],
        comment=comment,
        base_version=api.version,
        base_state=before,
        proposed_state=after,
        plan=_plan(before, after, version=api.version + 1),
        approvals_needed=needed,
    )
    request.api = api
    _record(
        actor=actor,
        action=AuditAction.CR_OPENED,
        request=request,
        comment=comment,
        before=before,
        after=after,
    )
    events.emit("change_request.opened", api=api, payload=_summary(request))
    raise ChangeRequestPending(request)


def _fold(
    request: ChangeRequest,
    *,
    actor: Actor,
    api: Api,
    before: dict[str, Any],
    after: dict[str, Any],
    comment: str,
) -> None:
    """A further widening write by the author of an open request on the same API edits that
    request: its change (re-based on the current state) plus this one. Approvals reset."""
    proposed = planning.rebase(request.base_state, request.proposed_state, before)
    proposed = planning.rebase(before, after, proposed)
    old = request.proposed_state
    request.base_version, request.base_state = api.version, before
    request.proposed_state = proposed
    request.plan = _plan(before, proposed, version=api.version + 1)
    request.approvals_needed = max(
        request.approvals_needed, planning.approvals_needed(before, proposed, approvals_config())
    )
    request.state = State.OPEN
    request.save()
    request.approvals.all().delete()
    _note(request, actor, "edited", comment)
    _record(
        actor=actor,
        action=AuditAction.CR_EDITED,
        request=request,
        comment=comment,
        before=old,
        after=proposed,
    )


# --- the steps --------------------------------------------------------------------------------


def _locked(request: ChangeRequest) -> ChangeRequest:
    locked = ChangeRequest.objects.select_for_update().get(pk=request.pk)
    locked.api = Api.objects.select_related("team").get(pk=locked.api_id)
    return locked


def _require_pending(request: ChangeRequest) -> None:
    if request.state not in PENDING:
        raise ValidationFailed(
            {"state": [f"change request #{request.pk} is {request.state}: nothing more to do"]}
        )


def _editor(actor: Actor, api: Api) -> User:
    user = actor.user
    if user is None or not permissions.can_edit(user, api):
        raise NotPermitted(f"{actor.name} may not review changes to {api.slug}")
    return user


def approve(
    *, actor: Actor, request: ChangeRequest, comment: str = "", now: datetime | None = None
) -> ChangeRequest:
    """Approve as a team editor who is not the author (superusers included: nobody approves
    their own change). When the approvals are reached the request is applied at once, unless
    `scheduled_at` is later (then `apply_scheduled` applies it). Raises `NotPermitted` for the
    author or a non-editor, `ValidationFailed` for a closed request or a second approval by the
    same person, `ChangeRequestPending(replanned=True)` when applying found a stale base."""
    with services._writing():
        locked = _locked(request)
        user = _editor(actor, locked.api)
        if locked.author_id == user.pk:
            raise NotPermitted(
                "you opened this change request: another editor of the team must approve it"
            )
        if locked.state != State.OPEN:
            raise ValidationFailed(
                {"state": [f"change request #{locked.pk} is {locked.state}, not open"]}
            )
        if locked.approvals.filter(user=user).exists():
            raise ValidationFailed({"approval": ["you already approved this change request"]})
        ChangeRequestApproval.objects.create(
            change_request=locked, user=user, user_name=user.get_username()
        )
        count = locked.approvals.count()
        if count >= locked.approvals_needed:
            locked.state = State.APPROVED
            locked.save(update_fields=["state", "updated_at"])
        if comment.strip():
            _note(locked, actor, "approved", comment)
        _record(
            actor=actor,
            action=AuditAction.CR_APPROVED,
            request=locked,
            comment=comment,
            after={"state": locked.state, "approvals": count, "needed": locked.approvals_needed},
        )
        events.emit("change_request.approved", api=locked.api, payload=_summary(locked))
        now = now or timezone.now()
        if locked.state == State.APPROVED and (
            locked.scheduled_at is None or locked.scheduled_at <= now
        ):
            _apply(locked, actor=actor)
    return locked


def reject(*, actor: Actor, request: ChangeRequest, reason: str) -> ChangeRequest:
    """Close the request unapplied, with a reason (required); by a team editor (the author
    withdraws instead)."""
    if not reason.strip():
        raise ValidationFailed({"reason": ["say why the change is rejected"]})
    with transaction.atomic():
        locked = _locked(request)
        user = _editor(actor, locked.api)
        _require_pending(locked)
        if locked.author_id == user.pk:
            raise NotPermitted("you opened this change request: withdraw it instead")
        _close(locked, actor, State.REJECTED, AuditAction.CR_REJECTED, reason)
        events.emit("change_request.rejected", api=locked.api, payload=_summary(locked))
    return locked


def withdraw(*, actor: Actor, request: ChangeRequest, reason: str = "") -> ChangeRequest:
    """The author takes the request back (only the author)."""
    with transaction.atomic():
        locked = _locked(request)
        if actor.user is None or locked.author_id != actor.user.pk:
            raise NotPermitted("only the author may withdraw a change request")
        _require_pending(locked)
        _close(locked, actor, State.WITHDRAWN, AuditAction.CR_WITHDRAWN, reason)
    return locked


def _close(
    request: ChangeRequest, actor: Actor, state: State, action: AuditAction, reason: str
) -> None:
    previous = request.state
    request.state = state
    request.closed_reason = reason
    request.closed_by_name = actor.name[:150]
    request.save(update_fields=["state", "closed_reason", "closed_by_name", "updated_at"])
    if reason.strip():
        _note(request, actor, str(state), reason)
    _record(
        actor=actor,
        action=action,
        request=request,
        comment=reason,
        before={"state": previous},
        after={"state": state},
    )


def discuss(*, actor: Actor, request: ChangeRequest, text: str) -> ChangeRequestComment:
    """Add a message to the request's discussion (anyone who may see the API; audited)."""
    text = text.strip()
    if not text:
        raise ValidationFailed({"text": ["write something"]})
    if len(text) > 5000:
        raise ValidationFailed({"text": ["longer than 5000 characters"]})
    user = actor.user
    with transaction.atomic():
        locked = _locked(request)
        if user is None or not permissions.can_view(user, locked.api):
            raise NotPermitted(f"{actor.name} may not discuss changes to {locked.api.slug}")
        message = ChangeRequestComment.objects.create(
            change_request=locked, author_name=actor.name[:150], text=text
        )
        _record(actor=actor, action=AuditAction.CR_COMMENTED, request=locked, comment=text)
    return message


def apply(*, actor: Actor, request: ChangeRequest, break_glass: str = "") -> ChangeRequest:
    """Apply an approved request (any team editor; not before its scheduled time), or, with
    `break_glass` (the reason, required), an open one at once (superusers only; the audit
    event is `change.break_glass`). Re-plans first: a stale base raises
    `ChangeRequestPending(replanned=True)` after saving the new plan (break-glass applies the
    re-based change directly). Raises `ValidationFailed` when not approved, scheduled later,
    closed, or the change no longer passes lint."""
    with services._writing():
        locked = _locked(request)
        _require_pending(locked)
        if break_glass:
            if actor.user is None or not actor.user.is_superuser:
                raise NotPermitted("only a superuser may break the glass")
            if not break_glass.strip():
                raise ValidationFailed({"break_glass": ["say why this cannot wait"]})
        else:
            _editor(actor, locked.api)
            if locked.state != State.APPROVED:
                count = locked.approvals.count()
                raise ValidationFailed(
                    {
                        "state": [
                            f"change request #{locked.pk} has {count} of "
                            f"{locked.approvals_needed} approvals"
                        ]
                    }
                )
            if locked.scheduled_at is not None and locked.scheduled_at > timezone.now():
                raise ValidationFailed(
                    {"scheduled_at": [f"scheduled for {locked.scheduled_at:%Y-%m-%d %H:%M} UTC"]}
                )
        _apply(locked, actor=actor, break_glass=break_glass.strip())
    return locked


def _apply(request: ChangeRequest, *, actor: Actor, break_glass: str = "") -> None:
    api = services._lock(request.api, None)
    current = api_state(api)
    proposed = request.proposed_state
    if api.version != request.base_version:
        proposed = planning.rebase(request.base_state, request.proposed_state, current)
        if not break_glass:
            _replan(request, actor=actor, api=api, current=current, proposed=proposed)
            raise ChangeRequestPending(request, replanned=True)
    now = timezone.now()
    # A temporary origin whose time ran out while the request waited stays out.
    proposed = {
        **proposed,
        "origins": [
            rule
            for rule in proposed["origins"]
            if rule["expires_at"] is None or datetime.fromisoformat(rule["expires_at"]) > now
        ],
    }
    findings = services.check_state(proposed, version=api.version + 1)
    _write_state(api, proposed, actor)
    after = api_state(api)
    action = AuditAction.BREAK_GLASS if break_glass else AuditAction.CR_APPLIED
    why = break_glass or request.comment
    services._new_version(
        findings=findings,
        api=api,
        actor=actor,
        action=action,
        comment=f"change request #{request.pk}: {why}",
        object_type="change_request",
        object_id=request.pk,
        object_repr=f"#{request.pk} {request.title}"[:1000],
        before=current,
        after=after,
    )
    request.api = api
    request.state = State.APPLIED
    request.applied_version = api.version
    if break_glass:
        request.closed_reason = f"break-glass: {break_glass}"
        request.closed_by_name = actor.name[:150]
        _note(request, actor, "break-glass", break_glass)
    request.save()
    if break_glass:
        events.emit(
            "change.break_glass",
            api=api,
            payload={**_summary(request), "reason": break_glass, "by": actor.name},
        )
    events.emit("change_request.applied", api=api, payload=_summary(request))


def _replan(
    request: ChangeRequest,
    *,
    actor: Actor,
    api: Api,
    current: dict[str, Any],
    proposed: dict[str, Any],
) -> None:
    """Base the request on the current version. If what it changes differs from what was
    approved (someone changed the same rules meanwhile), its approvals are reset."""
    old_diff = request.plan.get("diff", [])
    plan = _plan(current, proposed, version=api.version + 1)
    request.replanned_from = request.base_version
    request.base_version, request.base_state = api.version, current
    request.proposed_state, request.plan = proposed, plan
    reset = plan["diff"] != old_diff
    if reset:
        request.state = State.OPEN
        request.approvals.all().delete()
    request.save()
    _record(
        actor=actor,
        action=AuditAction.CR_REPLANNED,
        request=request,
        comment=f"re-planned from version {request.replanned_from} to {api.version}"
        + ("; the diff changed, approvals reset" if reset else "; same diff"),
        after={"base_version": api.version, "state": request.state},
    )


def _write_state(api: Api, state: dict[str, Any], actor: Actor) -> None:
    """Make the locked `api` hold `state`: fields set, origin rules kept (same ids), edited,
    removed or added by (kind, value)."""
    if state["team"] != api.team.name:
        api.team = Group.objects.get(name=state["team"])
    for name in EDITABLE_FIELDS:
        setattr(api, name, state[name])
    wanted = {(rule["kind"], rule["value"]): rule for rule in state["origins"]}
    for rule in list(api.origins.all()):
        spec = wanted.pop((rule.kind, rule.value), None)
        if spec is None:
            rule.delete()
            continue
        expires = datetime.fromisoformat(spec["expires_at"]) if spec["expires_at"] else None
        if (rule.note, rule.enabled, rule.expires_at) != (spec["note"], spec["enabled"], expires):
            rule.note, rule.enabled, rule.expires_at = spec["note"], spec["enabled"], expires
            rule.save()
    OriginRule.objects.bulk_create(
        OriginRule(
            api=api,
            kind=spec["kind"],
            value=spec["value"],
            note=spec["note"],
            enabled=spec["enabled"],
            expires_at=datetime.fromisoformat(spec["expires_at"]) if spec["expires_at"] else None,
            created_by=actor.user if actor.type == ActorType.USER else None,
        )
        for spec in wanted.values()
    )


def schedule(*, actor: Actor, request: ChangeRequest, at: datetime | None) -> ChangeRequest:
    """Set (or clear, with None) when an approved request applies; the author or an editor."""
    with transaction.atomic():
        locked = _locked(request)
        _editor(actor, locked.api)
        _require_pending(locked)
        if at is not None and at <= timezone.now():
            raise ValidationFailed({"scheduled_at": ["the time is in the past"]})
        before = locked.scheduled_at
        locked.scheduled_at = at
        locked.save(update_fields=["scheduled_at", "updated_at"])
        _record(
            actor=actor,
            action=AuditAction.CR_EDITED,
            request=locked,
            before={"scheduled_at": before.isoformat() if before else None},
            after={"scheduled_at": at.isoformat() if at else None},
        )
    return locked


def apply_scheduled(*, now: datetime | None = None) -> int:
    """Apply approved requests whose scheduled time has come (beat, every minute); returns how
    many were applied. A stale one is re-planned and waits (its next apply is by a person)."""
    now = now or timezone.now()
    actor = Actor.system("scheduler")
    applied = 0
    due = ChangeRequest.objects.filter(state=State.APPROVED, scheduled_at__lte=now)
    for request in due.order_by("scheduled_at", "pk"):
        try:
            with services._writing():
                locked = _locked(request)
                if locked.state != State.APPROVED:
                    continue
                _apply(locked, actor=actor)
        except (ChangeRequestPending, ValidationFailed):
            continue
        applied += 1
    return applied


def needs_approval(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """How `before -> after` widens access where approval is needed ([] when it may apply at
    once): for faces that refuse such a change instead of opening a request (the admin)."""
    if planning.approvals_needed(before, after, approvals_config()) == 0:
        return []
    return planning.widening_reasons(
        before, after, now=timezone.now(), approvals=approvals_config()
    )


def replace_policy(
    *,
    actor: Actor,
    api: Api,
    make_after: Callable[[dict[str, Any]], dict[str, Any]],
    comment: str,
    title: str,
    object_repr: str,
) -> Api:
    """One planned write of a whole new state: `make_after(before)` gives it from the current
    state (locked). Cleans the fields like `update_api`, lints, then applies at once or opens
    a change request (`ChangeRequestPending`). Used by promote and `import_cors`."""
    services._authorise(actor, api.team)
    with services._writing():
        locked = services._lock(api, None)
        before = api_state(locked)
        after = make_after(before)
        cleaned, errors = services._clean_fields({name: after[name] for name in EDITABLE_FIELDS})
        if errors:
            raise ValidationFailed(errors)
        after = {**after, **cleaned}
        if after == before:
            return locked
        findings = services.check_state(after, version=locked.version + 1)
        gate(actor=actor, api=locked, before=before, after=after, comment=comment, title=title)
        _write_state(locked, after, actor)
        services._new_version(
            findings=findings,
            api=locked,
            actor=actor,
            action=AuditAction.API_UPDATED,
            comment=comment,
            object_type="api",
            object_id=locked.pk,
            object_repr=object_repr,
            before=before,
            after=api_state(locked),
        )
    return locked


def promote(*, actor: Actor, source: Api, target: Api, comment: str = "") -> Api:
    """Copy `source`'s policy (origins, methods, headers, switches, mode, paths, max-age; not
    its name, team or environment) onto `target`, e.g. staging onto its production twin. A
    widening result opens a change request on `target` (`ChangeRequestPending`), like any
    write; otherwise it applies at once. Raises `ValidationFailed` when nothing would change."""
    if actor.user is not None and not permissions.can_view(actor.user, source):
        raise NotPermitted(f"{actor.name} may not read {source.slug}")
    if source.pk == target.pk:
        raise ValidationFailed({"target": ["promote onto another API"]})
    copied = set(EDITABLE_FIELDS) - {"name", "description", "environment"}
    source_state = api_state(Api.objects.select_related("team").get(pk=source.pk))

    def make_after(before: dict[str, Any]) -> dict[str, Any]:
        after = {**before, **{name: source_state[name] for name in copied}}
        after["origins"] = source_state["origins"]
        if after == before:
            raise ValidationFailed({"target": [f"{target.slug} already has this policy"]})
        return after

    return replace_policy(
        actor=actor,
        api=target,
        make_after=make_after,
        comment=comment or f"promoted from {source.slug}",
        title=f"promote {source.slug} onto {target.slug}",
        object_repr=f"{source.slug} -> {target.slug}",
    )


# --- selectors ----------------------------------------------------------------------------------


def visible(user: Any) -> QuerySet[ChangeRequest]:
    """Change requests on the APIs `user` may see (auditors and superusers: all)."""
    return ChangeRequest.objects.filter(api__in=permissions.visible_apis(user)).select_related(
        "api", "api__team"
    )


def to_review(user: Any) -> QuerySet[ChangeRequest]:
    """Open requests `user` could approve: on APIs they edit, by someone else, not yet
    approved by them."""
    if not user.is_authenticated:
        return ChangeRequest.objects.none()
    editable = permissions.visible_apis(user)
    if not user.is_superuser:
        editable = editable.filter(team__in=permissions.editable_teams(user))
    return (
        ChangeRequest.objects.filter(state=State.OPEN, api__in=editable)
        .exclude(author=user)
        .exclude(approvals__user=user)
        .select_related("api", "api__team")
    )


def mine(user: Any) -> QuerySet[ChangeRequest]:
    return visible(user).filter(author=user)


def counts(user: Any) -> dict[str, int]:
    """For the header: open requests to review, and the user's own pending ones."""
    if not user.is_authenticated:
        return {"to_review": 0, "mine": 0}
    return {
        "to_review": to_review(user).count(),
        "mine": mine(user).filter(state__in=PENDING).count(),
    }


def pending_for(api: Api) -> QuerySet[ChangeRequest]:
    return (
        ChangeRequest.objects.filter(api=api, state__in=PENDING)
        .annotate(approval_count=Count("approvals"))
        .order_by("-pk")
    )
