"""Bearer-token authentication for the policy endpoint (service tokens) and the management
API (personal access tokens). Only digests are looked up.

Service tokens are cached in each process (not in Redis, which is not trusted to say who
may read what): an entry holds while the database's revocation counter is the one it was
cached under (checked at most every CORSADMIN_DB_CHECK_SECONDS, policies.freshness) and for
at most a minute, so a poll that ends in 304 touches no database and a revoked token is
refused within CORSADMIN_DB_CHECK_SECONDS on every process, Redis up or down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from policies import freshness
from policies.models import AccessToken, ServiceToken
from policies.secrets import PERSONAL_PREFIX, SERVICE_PREFIX, digest_of

REALM = 'Bearer realm="corsadmin"'
_LAST_USED_EVERY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class ServicePrincipal:
    """What a service token may do, as cached: read the documents of `apis`."""

    id: int
    name: str
    apis: frozenset[str]
    expires_at: datetime | None


def _bearer(request: Request, prefix: str) -> str | None:
    header = get_authorization_header(request).decode("latin-1")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip().startswith(prefix):
        return None
    return secret.strip()


def _note_use(model: type[ServiceToken] | type[AccessToken], token_id: int) -> None:
    # At most one write a minute per token: polling must not turn into a write per request.
    if cache.add(f"token-used:{model.__name__}:{token_id}", 1, _LAST_USED_EVERY_SECONDS):
        model.objects.filter(pk=token_id).update(last_used_at=timezone.now())


def _invalid() -> AuthenticationFailed:
    return AuthenticationFailed("the token is missing, wrong, expired or revoked")


_PRINCIPAL_SECONDS = 60.0
_MAX_PRINCIPALS = 10_000
# digest -> (principal, revocation counter it was read under, monotonic time read)
_principals: dict[str, tuple[ServicePrincipal, int, float]] = {}
_last_used: dict[int, float] = {}


def service_principal(digest: str) -> ServicePrincipal | None:
    """The usable service token whose secret has this SHA-256 `digest`, or None (unknown,
    revoked, expired). No query while this process's cached entry holds."""
    generation = freshness.token_generation()
    now = time.monotonic()
    held = _principals.get(digest)
    if held is not None and held[1] == generation and now - held[2] < _PRINCIPAL_SECONDS:
        principal = held[0]
    else:
        token = ServiceToken.objects.usable(timezone.now()).filter(digest=digest).first()
        if token is None:
            _principals.pop(digest, None)
            return None
        principal = ServicePrincipal(
            id=token.pk,
            name=token.name,
            apis=frozenset(token.apis.values_list("slug", flat=True)),
            expires_at=token.expires_at,
        )
        if len(_principals) >= _MAX_PRINCIPALS:
            _principals.clear()
        _principals[digest] = (principal, generation, now)
    if principal.expires_at is not None and principal.expires_at <= timezone.now():
        return None
    return principal


def note_service_use(token_id: int) -> None:
    """Stamp last_used_at at most once a minute per token and process (no shared cache)."""
    now = time.monotonic()
    if now - _last_used.get(token_id, -1e18) < _LAST_USED_EVERY_SECONDS:
        return
    _last_used[token_id] = now
    ServiceToken.objects.filter(pk=token_id).update(last_used_at=timezone.now())


def forget_cached_tokens() -> None:
    """Drop this process's token cache (tests)."""
    _principals.clear()
    _last_used.clear()


class ServiceTokenAuthentication(BaseAuthentication):
    """DRF authentication with a service token (the consumers' report endpoint)."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ServicePrincipal] | None:
        secret = _bearer(request, SERVICE_PREFIX)
        if secret is None:
            if get_authorization_header(request):
                raise _invalid()
            return None
        principal = service_principal(digest_of(secret))
        if principal is None:
            raise _invalid()
        note_service_use(principal.id)
        return AnonymousUser(), principal

    def authenticate_header(self, request: Request) -> str:
        return REALM


class AccessTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer corsp_...`: acts as the token's owner (CSRF does not apply)."""

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        secret = _bearer(request, PERSONAL_PREFIX)
        if secret is None:
            return None
        token = (
            AccessToken.objects.usable(timezone.now())
            .select_related("user")
            .filter(digest=digest_of(secret))
            .first()
        )
        if token is None or not token.user.is_active:
            raise _invalid()
        _note_use(AccessToken, token.pk)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return REALM
