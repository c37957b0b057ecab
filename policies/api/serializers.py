"""Shapes of the management API: representations (read) and request bodies (write).

Request serializers only check shapes and types; what a value means (a canonical origin, a
regex that compiles, a policy lint accepts) is decided by `policies.services`, whose messages
reach the client unchanged. A key that is not a writable field of the request is refused
(400), so a typo is never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from policies.api.base import finding_data
from policies.documents import compile_document
from policies.lint import Severity, lint_document
from policies.models import (
    MAX_AGE_HARD_CAP,
    Api,
    AuditAction,
    AuditEvent,
    Environment,
    Mode,
    OriginRule,
    PolicyVersion,
    RuleKind,
    ServiceToken,
)

# --- shared ---------------------------------------------------------------------------------


class FindingSerializer(serializers.Serializer[Any]):
    rule = serializers.CharField(help_text="Stable id of the lint rule, e.g. allow-all-origins.")
    severity = serializers.ChoiceField(choices=[s.value for s in Severity])
    field = serializers.CharField(help_text="The policy field the finding is about.")
    value = serializers.CharField()
    message = serializers.CharField()
    fix = serializers.CharField()


def _username(user: User | None) -> str | None:
    return user.get_username() if user is not None else None


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses keys that are not writable fields, naming each one."""

    hints: ClassVar[dict[str, str]] = {}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = [str(key) for key in data if key not in writable]
            if unknown:
                raise serializers.ValidationError(
                    {
                        key: [self.hints.get(key, f"{key} is not a field that can be set here")]
                        for key in unknown
                    }
                )
        return super().to_internal_value(data)


class ReplaceMixin(serializers.Serializer[Any]):
    """For PUT: every writable field except `comment` is required (a full replacement)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if not field.read_only and name != "comment":
                field.required = True


_COMMENT_HELP = "Why: recorded with the change in the audit log and the version history."


def comment_field() -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text=_COMMENT_HELP
    )


# --- origins --------------------------------------------------------------------------------


class OriginSerializer(serializers.ModelSerializer[OriginRule]):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = OriginRule
        fields = (
            "id",
            "kind",
            "value",
            "note",
            "enabled",
            "expires_at",
            "created_at",
            "created_by",
        )
        read_only_fields = fields

    def get_created_by(self, rule: OriginRule) -> str | None:
        return _username(rule.created_by)


class OriginWriteSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=RuleKind.choices, required=False)
    value = serializers.CharField(
        max_length=1000,
        trim_whitespace=False,
        help_text="An origin (https://app.example.com), a wildcard (https://*.example.com) "
        "or an RE2 regex, by kind; stored in canonical form.",
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="A temporary origin is removed (and audited) when this time has passed.",
    )
    comment = comment_field()
    hints: ClassVar[dict[str, str]] = {
        "id": "id is read-only",
        "created_at": "created_at is read-only",
        "created_by": "created_by is read-only",
    }


class OriginUpdateSerializer(OriginWriteSerializer):
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    value = serializers.CharField(max_length=1000, trim_whitespace=False)


class OriginReplaceSerializer(ReplaceMixin, OriginUpdateSerializer):
    pass


class InitialOriginSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=RuleKind.choices, required=False)
    value = serializers.CharField(max_length=1000, trim_whitespace=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


# --- APIs -----------------------------------------------------------------------------------


class ApiSerializer(serializers.ModelSerializer[Api]):
    team = serializers.CharField(
        source="team.name", read_only=True, help_text="The owning team (group name)."
    )
    methods = serializers.ListField(child=serializers.CharField(), read_only=True)
    request_headers = serializers.ListField(child=serializers.CharField(), read_only=True)
    expose_headers = serializers.ListField(child=serializers.CharField(), read_only=True)
    origins = OriginSerializer(many=True, read_only=True)
    findings = serializers.SerializerMethodField(
        help_text="Lint findings of the published policy (warnings; errors are refused)."
    )
    updated_by = serializers.SerializerMethodField(
        help_text="Who made the last change: a username, or a token or the system."
    )

    class Meta:
        model = Api
        fields = (
            "slug",
            "name",
            "description",
            "team",
            "environment",
            "mode",
            "paths",
            "methods",
            "request_headers",
            "expose_headers",
            "allow_credentials",
            "max_age",
            "allow_private_network",
            "allow_null",
            "allow_all",
            "version",
            "origins",
            "findings",
            "created_at",
            "updated_at",
            "updated_by",
        )
        read_only_fields = fields

    @extend_schema_field(FindingSerializer(many=True))
    def get_findings(self, api: Api) -> list[dict[str, str]]:
        findings = lint_document(compile_document(api), environment=api.environment)
        return [finding_data(finding) for finding in findings]

    def get_updated_by(self, api: Api) -> str | None:
        if api.updated_by is not None:
            return api.updated_by.get_username()
        return api.updated_by_label or None


def _string_list(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, help_text=help_text
    )


class ApiFieldsSerializer(StrictSerializer):
    """The editable settings of an API (policies.documents.EDITABLE_FIELDS) and its team."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    team = serializers.CharField(
        max_length=150, help_text="The owning team (group name); one you may edit."
    )
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)
    mode = serializers.ChoiceField(choices=Mode.choices, required=False)
    paths = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="RE2 regex of request paths the policy applies to; empty for every path.",
    )
    methods = _string_list("Allowed methods, case-sensitive (GET, POST, ...).")
    request_headers = _string_list("Allowed request headers.")
    expose_headers = _string_list("Response headers exposed to scripts.")
    allow_credentials = serializers.BooleanField(required=False)
    max_age = serializers.IntegerField(min_value=0, max_value=MAX_AGE_HARD_CAP, required=False)
    allow_private_network = serializers.BooleanField(required=False)
    allow_null = serializers.BooleanField(required=False)  # type: ignore[assignment]
    allow_all = serializers.BooleanField(required=False)
    comment = comment_field()
    hints: ClassVar[dict[str, str]] = {
        "slug": "the slug cannot be changed (create a new API instead)",
        "version": "version is read-only: send the version you have in If-Match",
        **{
            name: f"{name} is read-only"
            for name in ("findings", "created_at", "updated_at", "updated_by")
        },
        "origins": "origins are changed at /api/v1/apis/<slug>/origins/",
    }


class ApiCreateSerializer(ApiFieldsSerializer):
    slug = serializers.CharField(
        max_length=64,
        help_text="Lower-case letters, digits and hyphens; the API's name in URLs and documents.",
    )
    origins = serializers.ListField(
        child=InitialOriginSerializer(),
        required=False,
        help_text="Origin rules to start with (created in the same version).",
    )
    hints: ClassVar[dict[str, str]] = {
        key: hint for key, hint in ApiFieldsSerializer.hints.items() if key != "slug"
    }


class ApiUpdateSerializer(ApiFieldsSerializer):
    """PATCH: any subset of the fields."""


class ApiReplaceSerializer(ReplaceMixin, ApiFieldsSerializer):
    """PUT: every field (except `comment`)."""


# --- service tokens -----------------------------------------------------------------------


class ServiceTokenSerializer(serializers.ModelSerializer[ServiceToken]):
    apis = serializers.SerializerMethodField(
        help_text="The APIs whose policy the token reads (those you can see)."
    )
    created_by = serializers.SerializerMethodField()
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ServiceToken
        fields: tuple[str, ...] = (
            "id",
            "name",
            "prefix",
            "apis",
            "created_at",
            "created_by",
            "expires_at",
            "last_used_at",
            "revoked",
            "revoked_at",
        )
        read_only_fields = fields

    def get_apis(self, token: ServiceToken) -> list[str]:
        visible: set[int] | None = self.context.get("visible_api_ids")
        return sorted(api.slug for api in token.apis.all() if visible is None or api.pk in visible)

    def get_created_by(self, token: ServiceToken) -> str | None:
        return _username(token.created_by)

    def get_revoked(self, token: ServiceToken) -> bool:
        return token.revoked_at is not None


class IssuedServiceTokenSerializer(ServiceTokenSerializer):
    secret = serializers.SerializerMethodField(
        help_text="The token itself: shown in this response only, never again."
    )

    class Meta(ServiceTokenSerializer.Meta):
        fields = (*ServiceTokenSerializer.Meta.fields, "secret")
        read_only_fields = fields

    def get_secret(self, token: ServiceToken) -> str:
        return str(self.context["secret"])


class ServiceTokenIssueSerializer(StrictSerializer):
    name = serializers.CharField(
        max_length=100, help_text="Which service uses the token (e.g. billing-web)."
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    apis = serializers.ListField(
        child=serializers.SlugField(max_length=64),
        required=False,
        help_text="Further APIs the token may read, besides the one in the URL.",
    )
    comment = comment_field()


# --- versions -----------------------------------------------------------------------------


class PolicyVersionSerializer(serializers.ModelSerializer[PolicyVersion]):
    actor = serializers.CharField(source="actor_name", read_only=True)

    class Meta:
        model = PolicyVersion
        fields: tuple[str, ...] = ("version", "created_at", "actor", "comment")
        read_only_fields = fields


class PolicyVersionDetailSerializer(PolicyVersionSerializer):
    state = serializers.JSONField(
        read_only=True, help_text="The API's editable settings and origin rules at this version."
    )

    class Meta(PolicyVersionSerializer.Meta):
        fields = (*PolicyVersionSerializer.Meta.fields, "state")
        read_only_fields = fields


class RollbackSerializer(StrictSerializer):
    comment = comment_field()


# --- audit ----------------------------------------------------------------------------------


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    api = serializers.CharField(
        source="api_slug", read_only=True, help_text="The API's slug, if any."
    )
    action = serializers.ChoiceField(choices=AuditAction.choices, read_only=True)
    before = serializers.JSONField(allow_null=True, read_only=True)
    after = serializers.JSONField(allow_null=True, read_only=True)
    diff = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = (
            "sequence",
            "timestamp",
            "action",
            "api",
            "api_version",
            "actor_type",
            "actor_id",
            "actor_name",
            "actor_ip",
            "user_agent",
            "request_id",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "diff",
            "comment",
            "prev_digest",
            "digest",
        )
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "array",
            "items": {"type": "object", "additionalProperties": True},
            "description": "Changed fields: {field, before, after} or {field, added, removed}.",
        }
    )
    def get_diff(self, event: AuditEvent) -> Any:
        return event.diff


# --- error bodies (for the schema) ---------------------------------------------------------


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


class StaleVersionSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    current_version = serializers.IntegerField(
        help_text="The API's version now: reload, reapply, send it in If-Match."
    )


class ValidationErrorSerializer(serializers.Serializer[Any]):
    """`{field: [messages]}`; `findings` when the linter refused the policy."""

    detail = serializers.CharField(required=False)
    findings = FindingSerializer(many=True, required=False)
