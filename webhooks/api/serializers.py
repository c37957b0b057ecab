"""Webhook subscriptions and deliveries as JSON (the secret only where it is issued)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from policies.api.serializers import ReplaceMixin, StrictSerializer, comment_field
from policies.events import EVENT_TYPES
from webhooks.models import Attempt, Delivery, Format, Subscription

_EVENTS_HELP = "Events to send: " + "; ".join(f"`{k}`: {v}" for k, v in EVENT_TYPES.items())


class SubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    team = serializers.SerializerMethodField(
        help_text="The team whose APIs' events are sent; null: a global subscription."
    )
    created_by = serializers.SerializerMethodField()
    event_types = serializers.ListField(child=serializers.CharField(), read_only=True)
    secret_prefix = serializers.CharField(
        read_only=True, help_text="The start of the signing secret, to tell secrets apart."
    )

    class Meta:
        model = Subscription
        fields: tuple[str, ...] = (
            "id",
            "name",
            "team",
            "url",
            "format",
            "event_types",
            "enabled",
            "secret_prefix",
            "consecutive_failures",
            "disabled_reason",
            "disabled_at",
            "created_at",
            "updated_at",
            "created_by",
        )
        read_only_fields = fields

    def get_team(self, subscription: Subscription) -> str | None:
        return subscription.team.name if subscription.team else None

    def get_created_by(self, subscription: Subscription) -> str | None:
        user = subscription.created_by
        return user.get_username() if user else None


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    secret = serializers.SerializerMethodField(
        help_text="The signing secret (whsec_...): in this response only, never again."
    )

    class Meta(SubscriptionSerializer.Meta):
        fields = (*SubscriptionSerializer.Meta.fields, "secret")
        read_only_fields = fields

    def get_secret(self, subscription: Subscription) -> str:
        return str(self.context["secret"])


def _events_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=list(EVENT_TYPES)),
        min_length=1,
        help_text=_EVENTS_HELP,
    )


class SubscriptionUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(
        max_length=2000,
        help_text="https:// URL of the receiver (public addresses only; no redirects "
        "followed). For `slack`, the incoming-webhook URL.",
    )
    format = serializers.ChoiceField(choices=Format.choices)
    event_types = _events_field()
    enabled = serializers.BooleanField(
        help_text="Off: nothing is sent. Turning it on again clears the failure count."
    )
    comment = comment_field()


class SubscriptionReplaceSerializer(ReplaceMixin, SubscriptionUpdateSerializer):
    pass


class SubscriptionCreateSerializer(SubscriptionUpdateSerializer):
    team = serializers.CharField(
        max_length=150,
        allow_null=True,
        help_text="One of your teams (you must be able to edit it); null: global "
        "(superusers only).",
    )
    format = serializers.ChoiceField(choices=Format.choices, default=Format.STANDARD)
    enabled = serializers.BooleanField(default=True)


class RotateSecretSerializer(StrictSerializer):
    keep_previous_hours = serializers.IntegerField(
        min_value=0,
        max_value=168,
        default=0,
        help_text="Keep signing with the old secret too (a second signature) for this long, "
        "so the receiver can switch; 0: the old secret stops at once (it leaked).",
    )
    comment = comment_field()


class RedeliverSerializer(StrictSerializer):
    comment = comment_field()


class AttemptSerializer(serializers.ModelSerializer[Attempt]):
    class Meta:
        model = Attempt
        fields: tuple[str, ...] = (
            "number",
            "started_at",
            "duration_ms",
            "ok",
            "status_code",
            "error",
            "response_excerpt",
        )
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    attempt_log = AttemptSerializer(many=True, read_only=True)
    payload = serializers.DictField(read_only=True, help_text="The event's `data`.")

    class Meta:
        model = Delivery
        fields: tuple[str, ...] = (
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "occurred_at",
            "created_at",
            "next_attempt_at",
            "give_up_at",
            "delivered_at",
            "last_status_code",
            "last_error",
            "payload",
            "attempt_log",
        )
        read_only_fields = fields


def subscription_changes(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    comment = str(data.pop("comment", "") or "")
    return data, comment
