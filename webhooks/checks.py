"""System checks for the webhook settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def check_webhooks(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if settings.CORSADMIN_WEBHOOKS_ALLOW_PRIVATE and not settings.DEBUG:
        messages.append(
            Warning(
                "CORSADMIN_WEBHOOKS_ALLOW_PRIVATE is on: webhooks may be sent to loopback and "
                "private addresses (server-side request forgery).",
                hint="Leave it off outside tests and labs.",
                id="corsadmin.W101",
            )
        )
    positive = {
        "CORSADMIN_WEBHOOKS_TIMEOUT_SECONDS": settings.CORSADMIN_WEBHOOKS_TIMEOUT_SECONDS,
        "CORSADMIN_WEBHOOKS_MAX_RESPONSE_BYTES": settings.CORSADMIN_WEBHOOKS_MAX_RESPONSE_BYTES,
        "CORSADMIN_WEBHOOKS_RETRY_BASE_SECONDS": settings.CORSADMIN_WEBHOOKS_RETRY_BASE_SECONDS,
        "CORSADMIN_WEBHOOKS_DISABLE_AFTER": settings.CORSADMIN_WEBHOOKS_DISABLE_AFTER,
        "CORSADMIN_WEBHOOKS_SPIKE_WINDOW_SECONDS": settings.CORSADMIN_WEBHOOKS_SPIKE_WINDOW_SECONDS,
    }
    for name, value in positive.items():
        if value <= 0:
            messages.append(Error(f"{name} must be greater than 0.", id="corsadmin.E101"))
    return messages
