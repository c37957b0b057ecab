"""Webhook subscriptions, the deliveries owed to them and every attempt at one.

Rows are written only by `webhooks.services` (subscriptions: authorised and audited in the
hash chain; deliveries: recorded in the transaction of the change that caused the event).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class Format(models.TextChoices):
    STANDARD = "standard", "Standard Webhooks (signed JSON)"
    SLACK = "slack", "Slack incoming webhook"


class Subscription(models.Model):
    """Where to post which events. `team` null: a global subscription (superusers only),
    which receives every event; otherwise the events about that team's APIs."""

    name = models.CharField(max_length=100)
    team = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.CharField(max_length=2000)
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.STANDARD)
    event_types = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    # The signing secret (`whsec_...`), encrypted with a key derived from SECRET_KEY
    # (webhooks/secrets.py): it must be readable to compute HMACs, so it cannot be hashed.
    secret_encrypted = models.TextField()
    secret_prefix = models.CharField(max_length=16)
    # The secret before the last rotation, still signing (beside the new one) until
    # `previous_secret_until`, so receivers can switch without losing deliveries.
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "pk"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["team", "enabled"], name="webhook_team_enabled"),
        ]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"
    CANCELLED = "cancelled", "Cancelled (subscription disabled)"


class Delivery(models.Model):
    """One event owed to one subscription, retried until delivered or out of time."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The Standard Webhooks message id (`webhook-id`): the same on every attempt and
    # redelivery, so receivers can de-duplicate.
    event_id = models.CharField(max_length=64, db_index=True)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField()
    # Set while a worker is sending: another worker (or the sweep) leaves it alone until then.
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-pk"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["subscription", "-created_at"], name="delivery_sub_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} -> {self.subscription_id} ({self.status})"


class Attempt(models.Model):
    """One HTTP request of a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.FloatField()
    ok = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.status_code or self.error}"


class StaleConsumerNotice(models.Model):
    """A consumer instance seen stale: since when, and whether `consumer.stale` was sent for
    this spell. Removed when it is fresh again, so the next spell is announced again (and
    each spell only once)."""

    consumer = models.OneToOneField(
        "policies.ConsumerInstance", on_delete=models.CASCADE, related_name="+"
    )
    since = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"stale consumer {self.consumer_id}"


class RefusedSpikeNotice(models.Model):
    """An (API, origin) whose refusal spike was announced: announced once, not every run."""

    api = models.ForeignKey("policies.Api", on_delete=models.CASCADE, related_name="+")
    origin = models.CharField(max_length=300)
    notified_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["api", "origin"], name="unique_spike_notice"),
        ]

    def __str__(self) -> str:
        return f"spike {self.api_id} {self.origin}"
