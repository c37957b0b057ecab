"""Reading webhook subscriptions and deliveries: who may see and change which."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import Prefetch, QuerySet

from policies import permissions
from policies.permissions import UserLike
from webhooks.models import Attempt, Delivery, Subscription


def _superuser(user: UserLike) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_superuser", False))


def visible_subscriptions(user: UserLike) -> QuerySet[Subscription]:
    """Superusers see all; team members (read-only ones too) their teams' subscriptions."""
    subscriptions = Subscription.objects.select_related("team", "created_by")
    if _superuser(user):
        return subscriptions
    if not user.is_authenticated:
        return subscriptions.none()
    # A subquery, not a list: the banner on every page costs one query.
    return subscriptions.filter(team_id__in=user.groups.values("id"))


def can_edit(user: UserLike, subscription: Subscription) -> bool:
    return can_edit_scope(user, subscription.team)


def can_edit_scope(user: UserLike, team: Group | None) -> bool:
    """Global subscriptions: superusers; a team's: its editors (as for its APIs)."""
    if team is None:
        return _superuser(user)
    return permissions.can_edit_team(user, team)


def deliveries(subscription: Subscription) -> QuerySet[Delivery]:
    """Newest first, each with its attempts in order."""
    return Delivery.objects.filter(subscription=subscription).prefetch_related(
        Prefetch("attempt_log", queryset=Attempt.objects.order_by("number"))
    )


def disabled_for(user: UserLike) -> QuerySet[Subscription]:
    """Subscriptions the user may fix that were disabled after repeated failures."""
    return visible_subscriptions(user).filter(enabled=False, disabled_at__isnull=False)
