"""Template context: the webhook subscriptions a person may fix that were disabled after
repeated failures (the banner in base.html). Evaluated only when a page shows it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from webhooks import selectors


def notices(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"disabled_webhooks": SimpleLazyObject(lambda: list(selectors.disabled_for(user)[:5]))}
