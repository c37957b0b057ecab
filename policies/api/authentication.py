"""Bearer-token authentication for the policy endpoint (service tokens) and the management
API (personal access tokens). Only digests are looked up; service tokens are cached in Redis
for a minute so a poll that ends in 304 touches no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from policies import store
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

    def as_cache_entry(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "apis": sorted(self.apis),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }

    @classmethod
    def from_cache_entry(cls, entry: dict[str, Any]) -> ServicePrincipal:
        expires = entry.get("expires_at")
        return cls(
            id=int(entry["id"]),
            name=str(entry["name"]),
            apis=frozenset(entry["apis"]),
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )


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


class ServiceTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AnonymousUser, ServicePrincipal] | None:
        secret = _bearer(request, SERVICE_PREFIX)
        if secret is None:
            if get_authorization_header(request):
                raise _invalid()
            return None
        digest = digest_of(secret)
        principal = self._lookup(digest)
        if principal is None:
            raise _invalid()
        if principal.expires_at is not None and principal.expires_at <= timezone.now():
            raise _invalid()
        _note_use(ServiceToken, principal.id)
        return AnonymousUser(), principal

    def _lookup(self, digest: str) -> ServicePrincipal | None:
        entry = store.get_token(digest)
        if entry is not None:
            if entry.get("revoked"):
                return None
            return ServicePrincipal.from_cache_entry(entry)
        token = ServiceToken.objects.usable(timezone.now()).filter(digest=digest).first()
        if token is None:
            return None
        principal = ServicePrincipal(
            id=token.pk,
            name=token.name,
            apis=frozenset(token.apis.values_list("slug", flat=True)),
            expires_at=token.expires_at,
        )
        store.put_token(digest, principal.as_cache_entry())
        return principal

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
