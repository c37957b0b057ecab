"""Change requests as JSON (read) and the bodies of their steps (write)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from policies.api.serializers import FindingSerializer, StrictSerializer
from policies.models import ChangeRequest, ChangeRequestState


class PlanSerializer(serializers.Serializer[Any]):
    diff = serializers.ListField(
        child=serializers.DictField(),
        help_text="Field-level changes from the base to the proposed state "
        '({"field", "before", "after"} or {"field", "added", "removed"}).',
    )
    widens = serializers.ListField(
        child=serializers.CharField(), help_text="How the change widens access, in words."
    )
    findings = FindingSerializer(many=True, help_text="Lint findings of the proposed policy.")


class ApprovalSerializer(serializers.Serializer[Any]):
    user = serializers.CharField(source="user_name")
    created_at = serializers.DateTimeField()


class DiscussionSerializer(serializers.Serializer[Any]):
    author = serializers.CharField(source="author_name")
    kind = serializers.CharField(help_text="comment, or the step it explains (rejected, ...).")
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class ChangeRequestSerializer(serializers.ModelSerializer[ChangeRequest]):
    api = serializers.CharField(source="api.slug")
    author = serializers.CharField(source="author_name")
    closed_by = serializers.CharField(source="closed_by_name")
    plan = PlanSerializer()
    proposed = serializers.JSONField(
        source="proposed_state", help_text="The API's state once applied (settings and origins)."
    )
    approvals = ApprovalSerializer(many=True)
    discussion = DiscussionSerializer(many=True, source="comments")

    class Meta:
        model = ChangeRequest
        fields = (
            "id",
            "api",
            "state",
            "title",
            "author",
            "comment",
            "base_version",
            "replanned_from",
            "approvals_needed",
            "approvals",
            "plan",
            "proposed",
            "scheduled_at",
            "applied_version",
            "closed_reason",
            "closed_by",
            "discussion",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class PendingSerializer(serializers.Serializer[Any]):
    """The answer to a write that waits for approval (202) or was re-planned (409)."""

    detail = serializers.CharField()
    change_request = ChangeRequestSerializer()


class ApproveSerializer(StrictSerializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class RejectSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=5000, help_text="Why the change is rejected.")


class WithdrawSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class ApplySerializer(StrictSerializer):
    break_glass = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text="Superusers: apply now without approval; the reason is required and audited.",
    )


class DiscussSerializer(StrictSerializer):
    text = serializers.CharField(max_length=5000)


class ScheduleSerializer(StrictSerializer):
    scheduled_at = serializers.DateTimeField(
        allow_null=True, help_text="When an approved request applies; null applies it at once."
    )


class PromoteSerializer(StrictSerializer):
    to = serializers.SlugField(help_text="The API that takes this one's policy (its twin).")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)


STATES = ChangeRequestState.values
