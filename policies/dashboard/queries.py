"""Read-side queries of the dashboard: the API list's search and the audit log's filters."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from policies import audit_selectors, cors, permissions
from policies.models import AccessToken, Api, AuditEvent, OriginRule, RuleKind, ServiceToken
from policies.origins import OriginError, canonical_origin
from policies.permissions import UserLike


def api_list(user: UserLike) -> QuerySet[Api]:
    """The APIs `user` may see, with what a list row shows, in a constant number of queries."""
    return (
        permissions.visible_apis(user)
        .select_related("team", "updated_by")
        .annotate(origin_count=Count("origins"))
        .order_by("slug")
    )


def editable_apis(user: UserLike) -> QuerySet[Api]:
    """The APIs `user` may change (and so issue service tokens for)."""
    return permissions.visible_apis(user).filter(team__in=permissions.editable_teams(user))


def service_tokens(api: Api) -> QuerySet[ServiceToken]:
    """The API's service tokens, usable ones first, each with its APIs and creator."""
    return (
        ServiceToken.objects.filter(apis=api)
        .select_related("created_by")
        .prefetch_related("apis")
        .order_by(F("revoked_at").desc(nulls_first=True), "-created_at", "-pk")
    )


def access_tokens(user: User) -> QuerySet[AccessToken]:
    return AccessToken.objects.filter(user=user).order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at", "-pk"
    )


def _active_rules(now: datetime) -> QuerySet[OriginRule]:
    return OriginRule.objects.filter(enabled=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def _pattern_matches(apis: QuerySet[Api], origin: str, now: datetime) -> list[int]:
    """Ids of the APIs in `apis` whose wildcard or regex rules accept `origin`.

    Each API's patterns are compiled into a minimal policy document and asked through the
    engine (`CompiledPolicy.allows_origin`), so the answer is exactly what consumers decide.
    """
    rules = (
        _active_rules(now)
        .filter(api__in=apis.order_by().values("pk"))
        .exclude(kind=RuleKind.EXACT)
        .values_list("api_id", "kind", "value")
    )
    patterns: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"wildcard": [], "regex": []})
    for api_id, kind, value in rules.iterator(chunk_size=2000):
        patterns[api_id][kind].append(value)
    matched: list[int] = []
    for api_id, kinds in patterns.items():
        document = {
            "schema": cors.SCHEMA,
            "api": f"search-{api_id}",
            "version": 1,
            "mode": "enforce",
            "paths": None,
            "origins": {"exact": [], **kinds, "allow_all": False, "allow_null": False},
            "methods": [],
            "request_headers": [],
            "expose_headers": [],
            "allow_credentials": False,
            "max_age": 0,
            "allow_private_network": False,
        }
        try:
            if cors.compile_policy(document).allows_origin(origin):
                matched.append(api_id)
        except cors.DocumentError:
            continue  # a stored pattern the engine refuses matches nothing for consumers either
    return matched


def search_apis(apis: QuerySet[Api], query: str) -> tuple[QuerySet[Api], str | None]:
    """Narrow `apis` to those matching `query`; also return the origin searched for, if any.

    A query that is an origin ("which APIs trust https://x.example?") finds the APIs that
    would accept it: an exact rule, a wildcard or regex rule, or allow all (enabled,
    unexpired rules only). Any other text matches name, slug or part of an origin rule.
    """
    query = query.strip()
    if not query:
        return apis, None
    if "://" in query or query == "null":
        try:
            origin = "null" if query == "null" else canonical_origin(query)
        except OriginError:
            origin = None
        if origin is not None:
            now = timezone.now()
            if origin == "null":
                return apis.filter(Q(allow_null=True) | Q(allow_all=True)), origin
            exact = Exists(
                _active_rules(now).filter(api=OuterRef("pk"), value=origin, kind="exact")
            )
            by_pattern = _pattern_matches(apis, origin, now)
            return apis.filter(exact | Q(pk__in=by_pattern) | Q(allow_all=True)), origin
    in_rules = Exists(OriginRule.objects.filter(api=OuterRef("pk"), value__icontains=query))
    return (
        apis.filter(Q(name__icontains=query) | Q(slug__icontains=query) | in_rules),
        None,
    )


# --- audit log -----------------------------------------------------------------------------


def filter_events(events: QuerySet[AuditEvent], filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    """The audit filter form's cleaned data (api, actor, action, since, until, q), whose
    dates are whole days in the current time zone, applied by the shared selector."""
    tz = timezone.get_current_timezone()
    text = (filters.get("q") or "").strip()
    if text:
        with contextlib.suppress(OriginError):
            text = canonical_origin(text)
    return audit_selectors.filter_events(
        events,
        api=filters.get("api") or None,
        actor=filters.get("actor") or None,
        action=filters.get("action") or None,
        since=datetime.combine(filters["since"], time(), tz) if filters.get("since") else None,
        before=datetime.combine(filters["until"] + timedelta(days=1), time(), tz)
        if filters.get("until")
        else None,
        text=text or None,
    )
