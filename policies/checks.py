"""System checks for configuration that would make corsadmin unsafe or broken."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def check_security(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if not settings.DEBUG and not settings.ALLOWED_HOSTS:
        # A warning, not an error: management commands (migrate, create_access_token)
        # need no host names, and would all be blocked by an error.
        messages.append(
            Warning(
                "ALLOWED_HOSTS is empty while DEBUG is off: no request would be served.",
                hint="Set ALLOWED_HOSTS, e.g. ALLOWED_HOSTS=cors.example.com",
                id="corsadmin.W002",
            )
        )
    from policies.metrics import parse_allow_list

    bad = parse_allow_list(settings.CORSADMIN_METRICS_ALLOW)
    if bad:
        messages.append(
            Error(
                f"CORSADMIN_METRICS_ALLOW has entries that are not addresses or networks: {bad}",
                hint="Use addresses or CIDR networks, e.g. 127.0.0.1,10.0.0.0/8",
                id="corsadmin.E003",
            )
        )
    if settings.CORSADMIN_CONSUMER_POLL_SECONDS < 1:
        messages.append(
            Error(
                "CORSADMIN_CONSUMER_POLL_SECONDS must be at least 1.",
                id="corsadmin.E002",
            )
        )
    from policies import planning
    from policies.models import Environment

    try:
        planning.parse_approvals(settings.CORSADMIN_APPROVALS, known=tuple(Environment.values))
    except planning.ApprovalsConfigError as exc:
        messages.append(
            Error(
                f"CORSADMIN_APPROVALS is malformed: {exc}",
                hint="e.g. CORSADMIN_APPROVALS=production=1,staging=0",
                id="corsadmin.E011",
            )
        )
    if settings.DEBUG and not settings.SESSION_COOKIE_SECURE:
        messages.append(
            Warning(
                "DEBUG is on and session cookies are not marked Secure: development only.",
                id="corsadmin.W001",
            )
        )
    return messages


@register()
def check_signing_key(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    # Every document central serves is signed; without a usable key it would serve none
    # (nothing falls open), so say so before the server starts.
    from policies import signing

    try:
        signing.keyring()
    except signing.SigningKeyError as exc:
        return [
            Error(
                f"The policy signing key is unusable: {exc}",
                hint="python manage.py rotate_signing_key (creates "
                "CORSADMIN_SIGNING_KEY_FILE, mode 0600)",
                id="corsadmin.E010",
            )
        ]
    return []
