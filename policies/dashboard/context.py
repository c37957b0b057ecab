"""Template context every dashboard page gets."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from policies import change_requests


def change_request_counts(request: HttpRequest) -> dict[str, Any]:
    """`cr_counts.to_review` / `cr_counts.mine` for the header, counted only if a page shows
    them (lazily: API responses and pages without the header pay nothing)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"cr_counts": SimpleLazyObject(lambda: change_requests.counts(user))}
