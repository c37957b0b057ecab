"""Who may see and change which APIs (shared by the dashboard, the admin and the REST API).

Team members (members of the API's owning group) see and edit their teams' APIs; members of
the `read-only` group see their teams' APIs without editing; superusers see and edit all.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, Group, User
from django.db.models import QuerySet

from policies.models import Api

READ_ONLY_GROUP = "read-only"

UserLike = User | AnonymousUser


def _is_superuser(user: UserLike) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_superuser", False))


def team_ids(user: UserLike) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(user.groups.values_list("id", flat=True))


def is_read_only(user: UserLike) -> bool:
    return user.is_authenticated and user.groups.filter(name=READ_ONLY_GROUP).exists()


def visible_apis(user: UserLike) -> QuerySet[Api]:
    if _is_superuser(user):
        return Api.objects.all()
    if not user.is_authenticated:
        return Api.objects.none()
    return Api.objects.filter(team_id__in=team_ids(user))


def can_view(user: UserLike, api: Api) -> bool:
    return _is_superuser(user) or api.team_id in team_ids(user)


def can_edit_team(user: UserLike, team: Group) -> bool:
    if _is_superuser(user):
        return True
    return team.pk in team_ids(user) and team.name != READ_ONLY_GROUP and not is_read_only(user)


def can_edit(user: UserLike, api: Api) -> bool:
    return can_edit_team(user, api.team)


def editable_teams(user: UserLike) -> QuerySet[Group]:
    if _is_superuser(user):
        return Group.objects.exclude(name=READ_ONLY_GROUP)
    if not user.is_authenticated or is_read_only(user):
        return Group.objects.none()
    return Group.objects.filter(id__in=team_ids(user)).exclude(name=READ_ONLY_GROUP)
