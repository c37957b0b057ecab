"""Who makes a change: a person, a token acting for a person or service, or the system."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User

from policies import request_context
from policies.models import ActorType


@dataclass(frozen=True, slots=True)
class Actor:
    type: ActorType
    name: str
    id: int | None = None
    user: User | None = None
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""

    @classmethod
    def for_user(cls, user: User | AnonymousUser) -> Actor:
        if not isinstance(user, User) or not user.is_authenticated:
            raise PermissionError("an anonymous user cannot change anything")
        return cls._with_context(
            type=ActorType.USER, name=user.get_username(), id=user.pk, user=user
        )

    @classmethod
    def for_token(cls, *, token_id: int, name: str, user: User | None) -> Actor:
        return cls._with_context(type=ActorType.TOKEN, name=name, id=token_id, user=user)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls._with_context(type=ActorType.SYSTEM, name=name)

    @classmethod
    def _with_context(
        cls,
        *,
        type: ActorType,
        name: str,
        id: int | None = None,
        user: User | None = None,
    ) -> Actor:
        # The request's address and id are taken from the request being served, if any, so
        # every caller (view, admin, API) records them without passing them around.
        context = request_context.current()
        return cls(
            type=type,
            name=name,
            id=id,
            user=user,
            ip=context.ip if context else None,
            user_agent=context.user_agent if context else "",
            request_id=context.request_id if context else "",
        )
