"""Tokens in the dashboard: an API's service tokens, and a person's own access tokens.

A new token's secret is in the response to the POST that issued it and nowhere else: not in
the session, not in a message, not on any later page (the response is also marked
`no-store`, so the browser does not keep it either). Only its digest is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from policies import permissions, services
from policies.dashboard import queries
from policies.dashboard.auth import login_required
from policies.dashboard.forms import AccessTokenForm, RevokeTokenForm, ServiceTokenForm
from policies.dashboard.views import DashboardRequest, _actor, _api_or_404, _require_edit
from policies.models import AccessToken, Api, ServiceToken


@dataclass
class TokenRow:
    token: ServiceToken | AccessToken
    state: str  # "active", "expired" or "revoked"
    others: list[str]  # the other APIs it reads that this person can see
    hidden: int = 0  # …and how many they cannot
    can_revoke: bool = False


def _state(token: ServiceToken | AccessToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def _service_rows(request: HttpRequest, api: Api, tokens: Iterable[ServiceToken]) -> list[TokenRow]:
    user = request.user
    superuser = bool(getattr(user, "is_superuser", False))
    visible = permissions.team_ids(user)
    editable = set(permissions.editable_teams(user).values_list("id", flat=True))
    now = timezone.now()
    rows = []
    for token in tokens:
        apis = list(token.apis.all())
        others = [other for other in apis if other.pk != api.pk]
        shown = sorted(o.slug for o in others if superuser or o.team_id in visible)
        rows.append(
            TokenRow(
                token=token,
                state=_state(token, now),
                others=shown,
                hidden=len(others) - len(shown),
                # The services refuse a revocation unless the person may change every API.
                can_revoke=token.revoked_at is None
                and (superuser or all(o.team_id in editable for o in apis)),
            )
        )
    return rows


def _secret_response(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)  # Cache-Control: no-store: not kept, not on "back"
    return response


# --- service tokens of an API ------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: DashboardRequest, slug: str) -> HttpResponse:
    api = _api_or_404(request, slug)
    if request.method == "POST":
        _require_edit(request, api)
    can_edit = permissions.can_edit(request.user, api)
    editable = queries.editable_apis(request.user)
    form = None
    if can_edit:
        data = request.POST if request.method == "POST" else None
        form = ServiceTokenForm(data, api=api, editable=editable)
    issued: ServiceToken | None = None
    secret = ""
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            issued, secret = services.issue_service_token(
                actor=_actor(request),
                name=form.cleaned_data["name"],
                apis=form.apis(),
                expires_at=form.expires_at(),
                comment=form.cleaned_data["comment"],
            )
        except services.ValidationFailed as failure:
            form.add_service_errors(failure)
        except services.NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        else:
            form = ServiceTokenForm(api=api, editable=editable)
    status = 422 if request.method == "POST" and issued is None else 200
    response = render(
        request,
        "dashboard/api_tokens.html",
        {
            "api": api,
            "crumb": "Tokens",
            "can_edit": can_edit,
            "form": form,
            "rows": _service_rows(request, api, queries.service_tokens(api)),
            "issued": issued,
            "secret": secret,
        },
        status=status,
    )
    return _secret_response(response) if secret else response


@login_required
@require_http_methods(["GET", "POST"])
def api_token_revoke(request: DashboardRequest, slug: str, token_id: int) -> HttpResponse:
    api = _api_or_404(request, slug)
    token = get_object_or_404(queries.service_tokens(api), pk=token_id)
    _require_edit(request, api)
    row = _service_rows(request, api, [token])[0]
    if token.revoked_at is not None:
        messages.info(request, f"{token} was already revoked.")
        return redirect("dashboard:api-tokens", slug=api.slug)
    if not row.can_revoke:
        raise PermissionDenied(
            "this token also reads APIs you may not change: someone who may change all of "
            "them (or a superuser) can revoke it"
        )
    form = RevokeTokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.revoke_service_token(
                actor=_actor(request), token=token, comment=form.cleaned_data["comment"]
            )
        except services.NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        messages.success(request, f"Revoked {token}: it no longer reads any policy.")
        return redirect("dashboard:api-tokens", slug=api.slug)
    return render(
        request,
        "dashboard/token_revoke.html",
        {
            "api": api,
            "crumb": "Revoke token",
            "row": row,
            "form": form,
            "kind": "service",
            "cancel_url": reverse("dashboard:api-tokens", args=[api.slug]),
        },
        status=422 if form.is_bound else 200,
    )


# --- a person's access tokens -----------------------------------------------------------------


def _person(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required
    return user


@login_required
@require_http_methods(["GET", "POST"])
def my_tokens(request: DashboardRequest) -> HttpResponse:
    user = _person(request)
    form = AccessTokenForm(request.POST if request.method == "POST" else None)
    issued: AccessToken | None = None
    secret = ""
    if request.method == "POST" and form.is_valid():
        try:
            issued, secret = services.issue_access_token(
                actor=_actor(request),
                user=user,
                name=form.cleaned_data["name"],
                expires_at=form.expires_at(),
                comment=form.cleaned_data["comment"],
            )
        except services.ValidationFailed as failure:
            form.add_service_errors(failure)
        except services.NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        else:
            form = AccessTokenForm()
    now = timezone.now()
    rows = [
        TokenRow(token=token, state=_state(token, now), others=[], can_revoke=True)
        for token in queries.access_tokens(user)
    ]
    context: dict[str, Any] = {"form": form, "rows": rows, "issued": issued, "secret": secret}
    status = 422 if request.method == "POST" and issued is None else 200
    response = render(request, "dashboard/my_tokens.html", context, status=status)
    return _secret_response(response) if secret else response


@login_required
@require_http_methods(["GET", "POST"])
def my_token_revoke(request: DashboardRequest, token_id: int) -> HttpResponse:
    user = _person(request)
    token = get_object_or_404(AccessToken, pk=token_id, user_id=user.pk)
    if token.revoked_at is not None:
        messages.info(request, f"{token} was already revoked.")
        return redirect("dashboard:my-tokens")
    form = RevokeTokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.revoke_access_token(
                actor=_actor(request), token=token, comment=form.cleaned_data["comment"]
            )
        except services.NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        messages.success(request, f"Revoked {token}: scripts using it are refused from now on.")
        return redirect("dashboard:my-tokens")
    row = TokenRow(token=token, state=_state(token, timezone.now()), others=[], can_revoke=True)
    return render(
        request,
        "dashboard/token_revoke.html",
        {
            "row": row,
            "form": form,
            "kind": "personal",
            "cancel_url": reverse("dashboard:my-tokens"),
        },
        status=422 if form.is_bound else 200,
    )
