"""Login failures and lockouts go into the audit log.

Django and django-axes only announce these through signals, so this module listens and
hands each one to `services.record_auth_event`; no other logic lives here.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from policies import services
from policies.models import AuditAction


def _username(credentials: dict[str, Any] | None, fallback: str = "") -> str:
    return str((credentials or {}).get("username") or fallback)[:150]


@receiver(user_login_failed, dispatch_uid="corsadmin-audit-login-failed")
def _login_failed(sender: Any, credentials: dict[str, Any] | None = None, **kwargs: Any) -> None:
    services.record_auth_event(
        action=AuditAction.LOGIN_FAILED,
        username=_username(credentials),
        request=kwargs.get("request"),
    )


@receiver(user_locked_out, dispatch_uid="corsadmin-audit-lockout")
def _locked_out(sender: Any, username: str = "", **kwargs: Any) -> None:
    services.record_auth_event(
        action=AuditAction.LOCKOUT,
        username=str(username or "")[:150],
        request=kwargs.get("request"),
    )
