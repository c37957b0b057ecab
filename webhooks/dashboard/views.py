"""The webhooks pages: subscriptions (list, create), one subscription (edit, deliveries with
their attempts, redeliver, rotate the secret, delete). Writes go through webhooks.services.

A new secret is in the response to the POST that made it and nowhere else (`no-store`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from policies import permissions
from policies.actors import Actor
from policies.dashboard.auth import login_required
from policies.services import NotPermitted, ValidationFailed
from webhooks import selectors, services
from webhooks.dashboard.forms import (
    CommentForm,
    CreateSubscriptionForm,
    RotateForm,
    SubscriptionForm,
)
from webhooks.models import Delivery, Subscription


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required
    return user


def _subscription(request: HttpRequest, pk: int) -> Subscription:
    return get_object_or_404(selectors.visible_subscriptions(request.user), pk=pk)


def _editable(request: HttpRequest, pk: int) -> Subscription:
    subscription = _subscription(request, pk)
    if not selectors.can_edit(request.user, subscription):
        raise PermissionDenied("you may see this webhook but not change it")
    return subscription


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def subscription_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    teams = permissions.editable_teams(user).order_by("name")
    can_create = user.is_superuser or teams.exists()
    form = CreateSubscriptionForm(
        request.POST if request.method == "POST" else None, teams=teams, superuser=user.is_superuser
    )
    created: Subscription | None = None
    secret = ""
    if request.method == "POST":
        if not can_create:
            raise PermissionDenied("you may not create webhooks")
        if form.is_valid():
            data = form.cleaned_data
            try:
                created, secret = services.create_subscription(
                    actor=Actor.for_user(user),
                    name=data["name"],
                    url=data["url"],
                    team=form.chosen_team(),
                    format=data["format"],
                    event_types=data["event_types"],
                    enabled=data["enabled"],
                    comment=data["comment"],
                )
            except ValidationFailed as failure:
                form.add_service_errors(failure)
            except NotPermitted as exc:
                raise PermissionDenied(exc.message) from None
            else:
                form = CreateSubscriptionForm(teams=teams, superuser=user.is_superuser)
    context: dict[str, Any] = {
        "subscriptions": selectors.visible_subscriptions(user).order_by("name", "pk"),
        "form": form if can_create else None,
        "created": created,
        "secret": secret,
    }
    status = 422 if request.method == "POST" and created is None else 200
    response = render(request, "webhooks/list.html", context, status=status)
    return _no_store(response) if secret else response


def _detail(
    request: HttpRequest,
    subscription: Subscription,
    *,
    form: SubscriptionForm | None = None,
    rotate: RotateForm | None = None,
    secret: str = "",
    status: int = 200,
) -> HttpResponse:
    can_edit = selectors.can_edit(request.user, subscription)
    if form is None and can_edit:
        form = SubscriptionForm(
            initial={
                "name": subscription.name,
                "url": subscription.url,
                "format": subscription.format,
                "event_types": subscription.event_types,
                "enabled": subscription.enabled,
            }
        )
    pages = Paginator(selectors.deliveries(subscription), 25)
    page = pages.get_page(request.GET.get("page"))
    response = render(
        request,
        "webhooks/detail.html",
        {
            "subscription": subscription,
            "can_edit": can_edit,
            "form": form,
            "rotate": rotate or RotateForm(),
            "delete_form": CommentForm(),
            "page": page,
            "secret": secret,
        },
        status=status,
    )
    return _no_store(response) if secret else response


@login_required
@require_http_methods(["GET", "POST"])
def subscription_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "GET":
        return _detail(request, _subscription(request, pk))
    subscription = _editable(request, pk)
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        comment = data.pop("comment")
        try:
            services.update_subscription(
                actor=Actor.for_user(_user(request)),
                subscription=subscription,
                comment=comment,
                **data,
            )
        except ValidationFailed as failure:
            form.add_service_errors(failure)
        except NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        else:
            messages.success(request, f"Saved {subscription.name}.")
            return redirect("webhooks:detail", pk=pk)
    return _detail(request, subscription, form=form, status=422)


@login_required
@require_POST
def rotate_secret(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _editable(request, pk)
    form = RotateForm(request.POST)
    if not form.is_valid():
        return _detail(request, subscription, rotate=form, status=422)
    try:
        secret = services.rotate_secret(
            actor=Actor.for_user(_user(request)),
            subscription=subscription,
            keep_previous_for=timedelta(hours=form.cleaned_data["keep_previous_hours"]),
            comment=form.cleaned_data["comment"],
        )
    except ValidationFailed as failure:
        form.add_service_errors(failure)
        return _detail(request, subscription, rotate=form, status=422)
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from None
    return _detail(request, _subscription(request, pk), secret=secret)


@login_required
@require_POST
def redeliver(request: HttpRequest, pk: int, delivery_id: int) -> HttpResponse:
    subscription = _editable(request, pk)
    delivery = get_object_or_404(Delivery, pk=delivery_id, subscription=subscription)
    try:
        services.redeliver(actor=Actor.for_user(_user(request)), delivery=delivery)
    except ValidationFailed as failure:
        for problems in failure.errors.values():
            for problem in problems:
                messages.error(request, problem)
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from None
    else:
        messages.success(request, f"Sending {delivery.event_type} ({delivery.event_id}) again.")
    return redirect("webhooks:detail", pk=pk)


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _editable(request, pk)
    form = CommentForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        services.delete_subscription(
            actor=Actor.for_user(_user(request)), subscription=subscription, comment=comment
        )
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from None
    messages.success(request, f"Deleted {subscription.name} and its deliveries.")
    return redirect("webhooks:list")
