"""The webhooks' REST endpoints (`/api/v1/webhooks/`): thin views over `webhooks.services`.

Same auth and error mapping as the rest of the management API (`policies.api.base`): a
subscription you cannot see is a 404; one you can see but not change (read-only member) a
403; invalid input a 400 `{field: [messages]}`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from policies import permissions
from policies.api.base import MAX_ID, ManagementView, query_text
from policies.api.pagination import Pages
from policies.api.schema import COMMENT, errors
from webhooks import selectors, services
from webhooks.api import serializers as s
from webhooks.models import Delivery, Subscription

READ = errors(401, 404)
WRITE = errors(400, 401, 403, 404)


def _id(value: int) -> int:
    if value > MAX_ID:
        raise exceptions.NotFound("not found")
    return value


class _WebhookView(ManagementView):
    queryset = Subscription.objects.none()

    def get_subscription(self, pk: int) -> Subscription:
        subscription = selectors.visible_subscriptions(self.user).filter(pk=_id(pk)).first()
        if subscription is None:
            raise exceptions.NotFound(f"no webhook subscription {pk}")
        return subscription

    def get_editable(self, pk: int) -> Subscription:
        subscription = self.get_subscription(pk)
        if not selectors.can_edit(self.user, subscription):
            raise exceptions.PermissionDenied(
                f"{self.user.get_username()} may see {subscription.name} but not change it"
            )
        return subscription

    def team_named(self, name: str | None) -> Group | None:
        if name is None:
            if not self.user.is_superuser:
                raise exceptions.ValidationError(
                    {"team": ["only superusers make global subscriptions: name your team"]}
                )
            return None
        teams = permissions.editable_teams(self.user).filter(name=name)
        team = teams.first()
        if team is None:
            yours = ", ".join(permissions.editable_teams(self.user).values_list("name", flat=True))
            raise exceptions.ValidationError(
                {"team": [f"{name!r} is not a team you may edit (yours: {yours or 'none'})"]}
            )
        return team


def _with_secret(subscription: Subscription, secret: str, code: int) -> Response:
    body = s.SubscriptionWithSecretSerializer(subscription, context={"secret": secret}).data
    response = Response(body, status=code)
    response["Cache-Control"] = "no-store"
    return response


@extend_schema(tags=["webhooks"])
class SubscriptionListView(_WebhookView):
    pagination_class = Pages

    @extend_schema(
        operation_id="webhooks_list",
        summary="Webhook subscriptions you can see (your teams'; all for superusers)",
        responses={200: s.SubscriptionSerializer(many=True), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        subscriptions = selectors.visible_subscriptions(self.user).order_by("name", "pk")
        page = self.paginate_queryset(subscriptions)
        return self.get_paginated_response(s.SubscriptionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe a URL to events; the signing secret is in this response only",
        request=s.SubscriptionCreateSerializer,
        responses={201: s.SubscriptionWithSecretSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = s.SubscriptionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data, comment = s.subscription_changes(dict(serializer.validated_data))
        team = self.team_named(data.pop("team"))
        subscription, secret = services.create_subscription(
            actor=self.actor(), team=team, comment=comment, **data
        )
        response = _with_secret(subscription, secret, status.HTTP_201_CREATED)
        response["Location"] = reverse("webhook-detail", kwargs={"pk": subscription.pk})
        return response


@extend_schema(tags=["webhooks"])
class SubscriptionDetailView(_WebhookView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="One subscription (never its secret)",
        responses={200: s.SubscriptionSerializer, **READ},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.SubscriptionSerializer(self.get_subscription(pk)).data)

    def _update(self, request: Request, pk: int, *, partial: bool) -> Response:
        subscription = self.get_editable(pk)
        serializer_class = (
            s.SubscriptionUpdateSerializer if partial else s.SubscriptionReplaceSerializer
        )
        serializer = serializer_class(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data, comment = s.subscription_changes(dict(serializer.validated_data))
        updated = services.update_subscription(
            actor=self.actor(), subscription=subscription, comment=comment, **data
        )
        return Response(s.SubscriptionSerializer(self.get_subscription(updated.pk)).data)

    @extend_schema(
        operation_id="webhooks_replace",
        summary="Replace every editable field (the team stays)",
        request=s.SubscriptionReplaceSerializer,
        responses={200: s.SubscriptionSerializer, **WRITE},
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change some fields (enabled: true turns a disabled subscription back on)",
        request=s.SubscriptionUpdateSerializer,
        responses={200: s.SubscriptionSerializer, **WRITE},
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=True)

    @extend_schema(
        operation_id="webhooks_destroy",
        summary="Delete a subscription and its deliveries",
        parameters=[COMMENT],
        responses={204: None, **WRITE},
    )
    def delete(self, request: Request, pk: int) -> Response:
        subscription = self.get_editable(pk)
        services.delete_subscription(
            actor=self.actor(),
            subscription=subscription,
            comment=query_text(request, "comment") or "",
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["webhooks"])
class RotateSecretView(_WebhookView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="A new signing secret, in this response only",
        request=s.RotateSecretSerializer,
        responses={200: s.SubscriptionWithSecretSerializer, **WRITE},
    )
    def post(self, request: Request, pk: int) -> Response:
        subscription = self.get_editable(pk)
        serializer = s.RotateSecretSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        secret = services.rotate_secret(
            actor=self.actor(),
            subscription=subscription,
            keep_previous_for=timedelta(hours=data["keep_previous_hours"]),
            comment=data.get("comment", ""),
        )
        return _with_secret(self.get_subscription(pk), secret, status.HTTP_200_OK)


@extend_schema(tags=["webhooks"])
class DeliveryListView(_WebhookView):
    pagination_class = Pages

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        summary="The subscription's deliveries, newest first, each with its attempts",
        responses={200: s.DeliverySerializer(many=True), **errors(400, 401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        subscription = self.get_subscription(pk)
        page = self.paginate_queryset(selectors.deliveries(subscription))
        return self.get_paginated_response(s.DeliverySerializer(page, many=True).data)


@extend_schema(tags=["webhooks"])
class RedeliverView(_WebhookView):
    @extend_schema(
        operation_id="webhooks_redeliver",
        summary="Send a delivery again now (same webhook-id, fresh retries)",
        request=s.RedeliverSerializer,
        responses={202: s.DeliverySerializer, **WRITE},
    )
    def post(self, request: Request, pk: int, delivery_id: int) -> Response:
        subscription = self.get_editable(pk)
        delivery = (
            Delivery.objects.select_related("subscription__team")
            .filter(subscription=subscription, pk=_id(delivery_id))
            .first()
        )
        if delivery is None:
            raise exceptions.NotFound(f"no delivery {delivery_id} of this subscription")
        serializer = s.RedeliverSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.redeliver(
            actor=self.actor(),
            delivery=delivery,
            comment=serializer.validated_data.get("comment", ""),
        )
        fresh: Any = selectors.deliveries(subscription).get(pk=delivery.pk)
        return Response(s.DeliverySerializer(fresh).data, status=status.HTTP_202_ACCEPTED)
