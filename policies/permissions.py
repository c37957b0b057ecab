"""Who may see and change which APIs (shared by the dashboard, the admin and the REST API).

Team members (members of the API's owning group) see and edit their teams' APIs, unless their
`TeamRole` in that team is `viewer`; a team `admin` also manages the team's members. Members
of the `read-only` group see their teams' APIs without editing; members of the `auditor` group
see every API, change request and audit event without editing; superusers see and edit all.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, Group, User
from django.db.models import QuerySet

from policies.models import Api, TeamRole, TeamRoleName

READ_ONLY_GROUP = "read-only"
AUDITOR_GROUP = "auditor"
# Groups that are roles, not teams: they own no API.
ROLE_GROUPS = (READ_ONLY_GROUP, AUDITOR_GROUP)

UserLike = User | AnonymousUser


def _is_superuser(user: UserLike) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_superuser", False))


_CACHE = "_corsadmin_memberships"


def _memberships(user: UserLike) -> tuple[dict[int, str], set[int]]:
    """The user's groups (id -> name) and the teams where they are a viewer; two queries,
    remembered on the user object (one request's lifetime; `forget` after changing them)."""
    cached = getattr(user, _CACHE, None)
    if cached is None:
        groups = dict(user.groups.values_list("id", "name"))
        viewer = set(
            TeamRole.objects.filter(user_id=user.pk or 0, role=TeamRoleName.VIEWER).values_list(
                "team_id", flat=True
            )
        )
        cached = (groups, viewer)
        setattr(user, _CACHE, cached)
    return cached


def forget(user: UserLike) -> None:
    """Drop what `_memberships` remembered (after the user's groups or roles changed)."""
    if hasattr(user, _CACHE):
        delattr(user, _CACHE)


def team_ids(user: UserLike) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(_memberships(user)[0])


def is_read_only(user: UserLike) -> bool:
    return user.is_authenticated and READ_ONLY_GROUP in _memberships(user)[0].values()


def is_auditor(user: UserLike) -> bool:
    return user.is_authenticated and AUDITOR_GROUP in _memberships(user)[0].values()


def sees_everything(user: UserLike) -> bool:
    """Superusers and auditors read every API, change request and audit event."""
    return _is_superuser(user) or is_auditor(user)


def team_role(user: UserLike, team: Group) -> str | None:
    """The user's role in `team` (`admin`, `editor`, `viewer`), None if not a member."""
    if not user.is_authenticated or team.pk not in team_ids(user):
        return None
    role = TeamRole.objects.filter(team=team, user_id=user.pk).values_list("role", flat=True)
    return role.first() or TeamRoleName.EDITOR


def can_manage_team(user: UserLike, team: Group) -> bool:
    """Superusers and the team's admins add and remove members and set their roles."""
    if team.name in ROLE_GROUPS:
        return _is_superuser(user)
    return _is_superuser(user) or team_role(user, team) == TeamRoleName.ADMIN


def _viewer_team_ids(user: UserLike) -> set[int]:
    return _memberships(user)[1] if user.is_authenticated else set()


def visible_apis(user: UserLike) -> QuerySet[Api]:
    if sees_everything(user):
        return Api.objects.all()
    if not user.is_authenticated:
        return Api.objects.none()
    return Api.objects.filter(team_id__in=team_ids(user))


def can_view(user: UserLike, api: Api) -> bool:
    return sees_everything(user) or api.team_id in team_ids(user)


def _read_only_role(user: UserLike) -> bool:
    return bool(set(ROLE_GROUPS) & set(_memberships(user)[0].values()))


def can_edit_team(user: UserLike, team: Group) -> bool:
    if _is_superuser(user):
        return True
    return (
        team.pk in team_ids(user)
        and team.name not in ROLE_GROUPS
        and not _read_only_role(user)
        and team.pk not in _viewer_team_ids(user)
    )


def can_edit(user: UserLike, api: Api) -> bool:
    return can_edit_team(user, api.team)


def editable_teams(user: UserLike) -> QuerySet[Group]:
    if _is_superuser(user):
        return Group.objects.exclude(name__in=ROLE_GROUPS)
    if not user.is_authenticated or _read_only_role(user):
        return Group.objects.none()
    return Group.objects.filter(id__in=team_ids(user) - _viewer_team_ids(user)).exclude(
        name__in=ROLE_GROUPS
    )
