"""The stored state: APIs and their origin rules, versions, audit events.

Models hold data and constraints only. Every write goes through `policies.services`, which
validates, bumps the version, snapshots it and audits it in one transaction.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models


class Environment(models.TextChoices):
    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"
    DEVELOPMENT = "development", "Development"


class Mode(models.TextChoices):
    ENFORCE = "enforce", "Enforce"
    REPORT_ONLY = "report-only", "Report only"
    OFF = "off", "Off"


class RuleKind(models.TextChoices):
    EXACT = "exact", "Exact origin"
    WILDCARD = "wildcard", "Wildcard"
    REGEX = "regex", "Regular expression"


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$",
    "Use lower-case letters, digits and hyphens (1-64 characters, no leading or trailing hyphen).",
)

# The hard ceiling matches Firefox's cap; lint warns above Chromium's 7200.
MAX_AGE_HARD_CAP = 86400


class Api(models.Model):
    slug = models.CharField(max_length=64, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="apis")
    environment = models.CharField(
        max_length=16, choices=Environment.choices, default=Environment.DEVELOPMENT
    )
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ENFORCE)
    paths = models.CharField(
        max_length=500, blank=True, help_text="Regex of request paths; empty for every path."
    )
    methods = models.JSONField(default=list)
    request_headers = models.JSONField(default=list)
    expose_headers = models.JSONField(default=list)
    allow_credentials = models.BooleanField(default=False)
    max_age = models.PositiveIntegerField(
        default=600, validators=[MaxValueValidator(MAX_AGE_HARD_CAP)]
    )
    allow_private_network = models.BooleanField(default=False)
    allow_null = models.BooleanField(default=False)
    allow_all = models.BooleanField(default=False)
    version = models.PositiveBigIntegerField(default=1)
    # The worst lint severity of the current version ("ok", "warning", "error"), set by the
    # services on every write so the list page can filter thousands of APIs by it.
    lint_status = models.CharField(max_length=8, default="ok", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Who made the last change when it was not a person (a token or scheduled work).
    updated_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["slug"]
        verbose_name = "API"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["team", "slug"]),
            models.Index(fields=["name"]),
        ]

    def __str__(self) -> str:
        return self.slug


class OriginRule(models.Model):
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="origins")
    kind = models.CharField(max_length=16, choices=RuleKind.choices, default=RuleKind.EXACT)
    value = models.CharField(max_length=1000, help_text="Stored in canonical form.")
    note = models.CharField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering: ClassVar[list[str]] = ["kind", "value"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["api", "kind", "value"], name="unique_rule_per_api"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["value"]),
            models.Index(fields=["expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.value}"


class PolicyVersion(models.Model):
    """One row per version of an API: the editable state it had, for history and rollback."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveBigIntegerField()
    state = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    actor_name = models.CharField(max_length=150)
    comment = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-version"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["api", "version"], name="unique_version_per_api"),
        ]

    def __str__(self) -> str:
        return f"{self.api_id} v{self.version}"


class AuditAction(models.TextChoices):
    API_CREATED = "api.created", "API created"
    API_UPDATED = "api.updated", "API updated"
    API_DELETED = "api.deleted", "API deleted"
    ORIGIN_ADDED = "origin.added", "Origin added"
    ORIGIN_CHANGED = "origin.changed", "Origin changed"
    ORIGIN_REMOVED = "origin.removed", "Origin removed"
    ORIGIN_EXPIRED = "origin.expired", "Origin expired"
    ROLLBACK = "api.rolled_back", "Rolled back"
    TOKEN_ISSUED = "token.issued", "Token issued"
    TOKEN_REVOKED = "token.revoked", "Token revoked"
    LOGIN_FAILED = "auth.login_failed", "Login failed"
    LOCKOUT = "auth.lockout", "Locked out"
    ARCHIVED = "audit.archived", "Audit log archived"
    WEBHOOK_CREATED = "webhook.created", "Webhook created"
    WEBHOOK_UPDATED = "webhook.updated", "Webhook changed"
    WEBHOOK_DELETED = "webhook.deleted", "Webhook deleted"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated", "Webhook secret rotated"
    WEBHOOK_DISABLED = "webhook.disabled", "Webhook disabled after failures"
    WEBHOOK_REDELIVERED = "webhook.redelivered", "Webhook delivery resent"
    CR_OPENED = "change_request.opened", "Change request opened"
    CR_EDITED = "change_request.edited", "Change request edited"
    CR_APPROVED = "change_request.approved", "Change request approved"
    CR_REJECTED = "change_request.rejected", "Change request rejected"
    CR_WITHDRAWN = "change_request.withdrawn", "Change request withdrawn"
    CR_REPLANNED = "change_request.replanned", "Change request re-planned"
    CR_COMMENTED = "change_request.commented", "Change request discussed"
    CR_APPLIED = "change_request.applied", "Change request applied"
    BREAK_GLASS = "change.break_glass", "Break-glass change"
    TEAM_CREATED = "team.created", "Team created"
    MEMBER_ADDED = "team.member_added", "Team member added"
    MEMBER_CHANGED = "team.member_changed", "Team member's role changed"
    MEMBER_REMOVED = "team.member_removed", "Team member removed"


class ActorType(models.TextChoices):
    USER = "user", "User"
    TOKEN = "token", "Token"
    SYSTEM = "system", "System"


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit event through the ORM."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit events are append-only: they cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(
            "audit events are append-only: only `manage.py archive_audit` removes old ones"
        )


class AuditEvent(models.Model):
    """One change, who made it and from where. No foreign keys: events outlive what they name.

    `sequence` orders the hash chain; `digest` covers this event's content and the previous
    event's digest, so an altered, removed or inserted event breaks the chain.
    """

    sequence = models.PositiveBigIntegerField(unique=True)
    timestamp = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150, db_index=True)
    actor_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices, db_index=True)
    api_id = models.BigIntegerField(null=True, blank=True)
    api_slug = models.CharField(max_length=64, blank=True)
    api_version = models.PositiveBigIntegerField(null=True, blank=True)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=1000, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    diff = models.JSONField(default=list, blank=True)
    comment = models.TextField(blank=True)
    prev_digest = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering: ClassVar[list[str]] = ["-sequence"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["api_slug", "-timestamp"], name="audit_api_time"),
            # What a team member may see is filtered by api_id (slugs can be reused).
            models.Index(fields=["api_id", "-timestamp"], name="audit_apiid_time"),
            models.Index(fields=["actor_name", "-timestamp"], name="audit_actor_time"),
            models.Index(fields=["action", "-timestamp"], name="audit_action_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.api_slug} by {self.actor_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only: they cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only: they cannot be deleted")


class AuditChainHead(models.Model):
    """A single row locked by every audit writer, so concurrent writers cannot fork the chain."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.PositiveBigIntegerField(default=0)
    digest = models.CharField(max_length=64)
    # Where verification starts: the last event archived away (0 / genesis when none).
    anchor_sequence = models.PositiveBigIntegerField(default=0)
    anchor_digest = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit head #{self.sequence}"


class TokenQuerySet(models.QuerySet[Any]):
    def usable(self, now: Any) -> TokenQuerySet:
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class Token(models.Model):
    """What both kinds of token hold. Only the SHA-256 digest of the secret is stored;
    `prefix` (its first characters) lets people tell tokens apart and match a secret
    scanner's hit."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = TokenQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ServiceToken(Token):
    """A consumer service's read-only credential for the policy documents of some APIs."""

    apis = models.ManyToManyField(Api, related_name="service_tokens")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta(Token.Meta):
        pass


class AccessToken(Token):
    """A person's token for scripts calling the management API as that person."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )

    class Meta(Token.Meta):
        pass


# --- consumer telemetry (POST /api/v1/reports) ------------------------------------------------


class ConsumerInstance(models.Model):
    """The last heartbeat of one consumer process for one API: what it enforces, how fresh.

    One row per (instance, API), overwritten by each report; ``last_seen`` tells which
    instances are alive.
    """

    instance = models.CharField(max_length=200)
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="consumers")
    service = models.CharField(max_length=100)
    token = models.ForeignKey(
        ServiceToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveBigIntegerField(null=True, blank=True)
    etag = models.CharField(max_length=100, blank=True)
    mode = models.CharField(max_length=16, blank=True)
    age_seconds = models.FloatField(null=True, blank=True)
    stale = models.BooleanField(default=False)
    source = models.CharField(max_length=16, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering: ClassVar[list[str]] = ["-last_seen"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["instance", "api"], name="unique_consumer_per_api"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["api", "-last_seen"], name="consumer_api_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.instance} ({self.api_id} v{self.version})"


class RefusedOrigin(models.Model):
    """Cross-origin requests consumers refused, counted per API, origin, reason and hour."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="refused_origins")
    origin = models.CharField(max_length=300)
    reason = models.CharField(max_length=40)
    hour = models.DateTimeField()
    count = models.PositiveBigIntegerField(default=0)
    sample = models.CharField(max_length=300, blank=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering: ClassVar[list[str]] = ["-hour", "-count"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["api", "origin", "reason", "hour"], name="unique_refusal_per_hour"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["api", "-hour"], name="refused_api_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.api_id} {self.origin} {self.reason} x{self.count}"


class OutboxKind(models.TextChoices):
    DOCUMENT = "document", "A new version of an API's document"
    DELETED = "deleted", "An API was deleted"
    TOKENS = "tokens", "Service tokens revoked or narrowed"


class OutboxMessage(models.Model):
    """What Redis must be told about a committed change (the transactional outbox).

    Written in the same transaction as the change, so a change can never be committed and
    then forgotten on its way to Redis: `policies.outbox` delivers each message (on commit,
    then from the worker's sweep) with backoff until Redis takes it, then stamps
    `delivered_at`. The newest `tokens` message's id is also the token revocation counter
    every central process checks (policies.freshness).
    """

    kind = models.CharField(max_length=16, choices=OutboxKind.choices)
    api_id = models.BigIntegerField(null=True, blank=True)
    slug = models.CharField(max_length=64, blank=True)
    version = models.PositiveIntegerField(null=True, blank=True)
    # For `tokens`: the SHA-256 digests whose cached entries Redis must forget.
    digests = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["kind", "id"], name="outbox_kind_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.slug or ''} v{self.version or '-'} #{self.pk}"


# --- change requests (widening changes that need approval) -----------------------------------


class ChangeRequestState(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    APPLIED = "applied", "Applied"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ChangeRequest(models.Model):
    """A planned change to an API that waits for approval (`policies.change_requests`).

    `base_state` is the API's state at `base_version` when the change was planned and
    `proposed_state` what it would become (both the dicts `documents.api_state` makes);
    `plan` is what the reviewers see: `{"diff", "widens", "findings"}`.
    """

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="change_requests")
    state = models.CharField(
        max_length=16,
        choices=ChangeRequestState.choices,
        default=ChangeRequestState.OPEN,
        db_index=True,
    )
    title = models.CharField(max_length=300)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_name = models.CharField(max_length=150)
    comment = models.TextField(blank=True)
    base_version = models.PositiveBigIntegerField()
    base_state = models.JSONField()
    proposed_state = models.JSONField()
    plan = models.JSONField(default=dict)
    approvals_needed = models.PositiveSmallIntegerField(default=1)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    applied_version = models.PositiveBigIntegerField(null=True, blank=True)
    closed_reason = models.TextField(blank=True)
    closed_by_name = models.CharField(max_length=150, blank=True)
    replanned_from = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-pk"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["api", "state"], name="cr_api_state"),
            models.Index(fields=["state", "scheduled_at"], name="cr_state_scheduled"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.api_id} {self.state}"


class ChangeRequestApproval(models.Model):
    change_request = models.ForeignKey(
        ChangeRequest, on_delete=models.CASCADE, related_name="approvals"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    user_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["created_at"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["change_request", "user"], name="one_approval_per_person"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_name} approved #{self.change_request_id}"


class ChangeRequestComment(models.Model):
    change_request = models.ForeignKey(
        ChangeRequest, on_delete=models.CASCADE, related_name="comments"
    )
    author_name = models.CharField(max_length=150)
    # What the comment is: a discussion message or the note of a step (approved, rejected...).
    kind = models.CharField(max_length=32, default="comment")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author_name} on #{self.change_request_id}"


# --- team roles --------------------------------------------------------------------------------


class TeamRoleName(models.TextChoices):
    ADMIN = "admin", "Team admin (edits, manages members)"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer (reads only)"


class TeamRole(models.Model):
    """A member's role in a team (a Django group). A member without a row is an editor, as
    before roles existed."""

    team = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_roles"
    )
    role = models.CharField(max_length=8, choices=TeamRoleName.choices, default=TeamRoleName.EDITOR)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["team", "user"], name="one_role_per_member"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} of {self.team_id}"
