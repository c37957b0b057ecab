"""Teams (Django groups) and their members' roles: services, each one audited transaction.

Superusers create teams and manage any team's members; a team's `admin` manages that team's
members. Roles: `admin` (edits, manages members), `editor` (edits), `viewer` (reads only).
The role groups (`read-only`, `auditor`) are managed by superusers only.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db import transaction

from policies import audit, permissions
from policies.actors import Actor
from policies.models import ActorType, AuditAction, TeamRole, TeamRoleName
from policies.services import NotPermitted, ValidationFailed


def _may_manage(actor: Actor, team: Group) -> None:
    if actor.type == ActorType.SYSTEM:
        return
    if actor.user is None or not permissions.can_manage_team(actor.user, team):
        raise NotPermitted(f"{actor.name} may not manage the members of {team.name}")


def _record(actor: Actor, action: AuditAction, team: Group, **kwargs: object) -> None:
    audit.record(
        actor=actor,
        action=action,
        object_type="team",
        object_id=team.pk,
        object_repr=team.name,
        **kwargs,  # type: ignore[arg-type]
    )


def create_team(*, actor: Actor, name: str, comment: str = "") -> Group:
    """A new team (superusers). Raises `ValidationFailed` for an empty, long or taken name."""
    if actor.type != ActorType.SYSTEM and not getattr(actor.user, "is_superuser", False):
        raise NotPermitted("only a superuser may create teams")
    name = (name or "").strip()
    if not name or len(name) > 150:
        raise ValidationFailed({"name": ["a team name is 1-150 characters"]})
    with transaction.atomic():
        if Group.objects.filter(name=name).exists():
            raise ValidationFailed({"name": [f"a team or role named {name!r} exists"]})
        team = Group.objects.create(name=name)
        _record(actor, AuditAction.TEAM_CREATED, team, after={"name": name}, comment=comment)
    return team


def _role(value: str) -> str:
    if value not in TeamRoleName.values:
        raise ValidationFailed({"role": [f"one of {', '.join(TeamRoleName.values)}"]})
    return value


def add_member(
    *, actor: Actor, team: Group, user: User, role: str = "editor", comment: str = ""
) -> None:
    _may_manage(actor, team)
    role = _role(role)
    with transaction.atomic():
        if user.groups.filter(pk=team.pk).exists():
            raise ValidationFailed({"user": [f"{user.get_username()} is already a member"]})
        user.groups.add(team)
        TeamRole.objects.update_or_create(team=team, user=user, defaults={"role": role})
        _record(
            actor,
            AuditAction.MEMBER_ADDED,
            team,
            after={"user": user.get_username(), "role": role},
            comment=comment,
        )
    permissions.forget(user)


def set_role(*, actor: Actor, team: Group, user: User, role: str, comment: str = "") -> None:
    _may_manage(actor, team)
    role = _role(role)
    with transaction.atomic():
        if not user.groups.filter(pk=team.pk).exists():
            raise ValidationFailed({"user": [f"{user.get_username()} is not a member"]})
        current = TeamRole.objects.filter(team=team, user=user).first()
        before = current.role if current else TeamRoleName.EDITOR
        if before == role:
            return
        if actor.user is not None and actor.user.pk == user.pk and not actor.user.is_superuser:
            raise ValidationFailed({"role": ["ask another admin to change your own role"]})
        TeamRole.objects.update_or_create(team=team, user=user, defaults={"role": role})
        _record(
            actor,
            AuditAction.MEMBER_CHANGED,
            team,
            before={"user": user.get_username(), "role": before},
            after={"user": user.get_username(), "role": role},
            comment=comment,
        )
    permissions.forget(user)


def remove_member(*, actor: Actor, team: Group, user: User, comment: str = "") -> None:
    _may_manage(actor, team)
    with transaction.atomic():
        if not user.groups.filter(pk=team.pk).exists():
            raise ValidationFailed({"user": [f"{user.get_username()} is not a member"]})
        role = TeamRole.objects.filter(team=team, user=user).values_list("role", flat=True)
        before = role.first() or TeamRoleName.EDITOR
        user.groups.remove(team)
        TeamRole.objects.filter(team=team, user=user).delete()
        _record(
            actor,
            AuditAction.MEMBER_REMOVED,
            team,
            before={"user": user.get_username(), "role": before},
            comment=comment,
        )
    permissions.forget(user)
