"""The Django admin, for superusers: every write goes through `policies.services`.

APIs and origin rules are edited here the way the dashboard edits them (validated, versioned,
audited, published); each form has a "why" field that becomes the audit comment. Versions and
audit events are read-only: no one adds, changes or deletes them here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from policies import change_requests, fields, services
from policies.actors import Actor
from policies.dashboard import preview
from policies.dashboard.forms import METHODS, TokenListField
from policies.documents import EDITABLE_FIELDS, api_state
from policies.models import Api, AuditEvent, OriginRule, PolicyVersion
from policies.origins import OriginError, canonical_rule

_COMMENT_HELP = "Why: recorded with the change in the audit log."


def _superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and getattr(request.user, "is_superuser", False))


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def _refuse_if_held(
    form: forms.BaseForm, before: dict[str, Any], after: dict[str, Any], default: str | None
) -> None:
    """The admin applies changes at once: one that needs approval is refused here, with where
    to make it instead (the dashboard or the REST API open a change request)."""
    reasons = change_requests.needs_approval(before, after)
    if reasons:
        form.add_error(
            default,
            f"This change widens access ({'; '.join(reasons)}) on an API whose environment "
            "needs approval: make it in the dashboard or the REST API, where it becomes a "
            "change request for another editor to approve.",
        )


def _add_errors(form: forms.BaseForm, failure: services.ValidationFailed, default: str) -> None:
    for name, messages in failure.errors.items():
        target = name if name in form.fields else default
        for message in messages:
            form.add_error(target if target in form.fields else None, message)


class SuperuserOnly:
    """Visible and writable to superusers only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _superuser(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return _superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _superuser(request)


class ReadOnly(SuperuserOnly):
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# --- APIs --------------------------------------------------------------------------------------


class ApiAdminForm(forms.ModelForm):
    methods = forms.MultipleChoiceField(
        choices=[(m, m) for m in METHODS], required=False, widget=forms.CheckboxSelectMultiple
    )
    request_headers = TokenListField(required=False, help_text="Comma- or space-separated.")
    expose_headers = TokenListField(required=False, help_text="Comma- or space-separated.")
    comment = forms.CharField(required=False, max_length=1000, help_text=_COMMENT_HELP)

    class Meta:
        model = Api
        fields = ("slug", "team", *EDITABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        methods = self.fields["methods"]
        assert isinstance(methods, forms.MultipleChoiceField)
        extra = sorted(set(self.instance.methods or []) - set(METHODS))
        methods.choices = [(m, m) for m in (*METHODS, *extra)]

    def clean_paths(self) -> str:
        try:
            return fields.clean_paths(self.cleaned_data.get("paths"))
        except fields.FieldError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors or "team" not in data:
            return data
        # Lint the would-be state now, so an error shows on the form instead of failing later.
        base = api_state(self.instance) if self.instance.pk else {"origins": []}
        state = {**base, **{name: data[name] for name in EDITABLE_FIELDS if name in data}}
        state.update(slug=data.get("slug", self.instance.slug), team=data["team"].name)
        try:
            services.check_state(state, version=(self.instance.version or 0) + 1)
        except services.ValidationFailed as failure:
            _add_errors(self, failure, default="")
        if self.instance.pk:
            _refuse_if_held(self, api_state(self.instance), state, default=None)
        return data

    def service_settings(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in EDITABLE_FIELDS if name != "name"}


class OriginRuleInline(ReadOnly, admin.TabularInline):
    model = OriginRule
    fields = ("kind", "value", "note", "enabled", "expires_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(Api)
class ApiAdmin(SuperuserOnly, admin.ModelAdmin):
    form = ApiAdminForm
    list_display = ("slug", "name", "team", "environment", "mode", "version", "updated_at")
    list_filter = ("environment", "mode", "team")
    search_fields = ("slug", "name")
    list_select_related = ("team",)
    show_full_result_count = False
    inlines = (OriginRuleInline,)
    _audit_fields = ("version", "created_at", "updated_at", "created_by", "updated_by")

    def get_readonly_fields(self, request: HttpRequest, obj: Api | None = None) -> Any:
        return ("slug", *self._audit_fields) if obj else ()

    def save_model(self, request: HttpRequest, obj: Api, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            created = services.create_api(
                actor=_actor(request),
                slug=data["slug"],
                name=data["name"],
                team=data["team"],
                comment=data["comment"],
                **form.service_settings(),
            )
            obj.pk = created.pk
        else:
            current = Api.objects.select_related("team").get(pk=obj.pk)
            team = data["team"]
            services.update_api(
                actor=_actor(request),
                api=current,
                comment=data["comment"],
                team=team if team.pk != current.team_id else None,
                name=data["name"],
                **form.service_settings(),
            )
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The services saved everything; the inline is read-only, so it saves nothing.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request: HttpRequest, obj: Api) -> None:
        services.delete_api(actor=_actor(request), api=obj, comment="deleted in the Django admin")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Api]) -> None:
        for api in queryset.select_related("team"):
            self.delete_model(request, api)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Versions are removed with their API by the service; their admin being read-only
        # must not block the deletion.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected


# --- origin rules ------------------------------------------------------------------------------


class OriginRuleAdminForm(forms.ModelForm):
    comment = forms.CharField(required=False, max_length=1000, help_text=_COMMENT_HELP)

    class Meta:
        model = OriginRule
        fields = ("api", "kind", "value", "note", "enabled", "expires_at")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        api: Api | None = data.get("api") or getattr(self.instance, "api", None)
        kind, value = data.get("kind"), data.get("value")
        if api is None or not kind or not value:
            return data
        try:
            data["value"] = canonical_rule(kind, value)
        except OriginError as exc:
            self.add_error("value", exc.message)
            return data
        try:
            state = preview.origin_state(
                api,
                kind=kind,
                value=data["value"],
                note=data.get("note", ""),
                enabled=data.get("enabled", True),
                expires_at=data.get("expires_at"),
                replacing=self.instance if self.instance.pk else None,
            )
            services.check_state(state, version=api.version + 1)
        except services.ValidationFailed as failure:
            _add_errors(self, failure, default="value")
        else:
            _refuse_if_held(self, api_state(api), state, default="value")
        return data


@admin.register(OriginRule)
class OriginRuleAdmin(SuperuserOnly, admin.ModelAdmin):
    form = OriginRuleAdminForm
    list_display = ("value", "kind", "api", "enabled", "expires_at", "note")
    list_filter = ("kind", "enabled")
    search_fields = ("value", "api__slug", "note")
    list_select_related = ("api",)
    autocomplete_fields = ("api",)
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: OriginRule | None = None) -> Any:
        return ("api", "created_at", "created_by") if obj else ()

    def save_model(self, request: HttpRequest, obj: OriginRule, form: Any, change: bool) -> None:
        data = form.cleaned_data
        values = {name: data[name] for name in ("kind", "value", "note", "enabled", "expires_at")}
        if not change:
            rule = services.add_origin(
                actor=_actor(request), api=data["api"], comment=data["comment"], **values
            )
            obj.pk = rule.pk
        else:
            current = OriginRule.objects.select_related("api__team").get(pk=obj.pk)
            services.update_origin(
                actor=_actor(request), rule=current, comment=data["comment"], **values
            )
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: OriginRule) -> None:
        services.remove_origin(
            actor=_actor(request), rule=obj, comment="removed in the Django admin"
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[OriginRule]) -> None:
        for rule in queryset.select_related("api__team"):
            self.delete_model(request, rule)


# --- history and audit: read-only ------------------------------------------------------------


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("api", "version", "created_at", "actor_name", "comment")
    list_select_related = ("api",)
    search_fields = ("api__slug", "actor_name", "comment")
    show_full_result_count = False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnly, admin.ModelAdmin):
    list_display = (
        "sequence",
        "timestamp",
        "action",
        "api_slug",
        "api_version",
        "actor_name",
        "object_repr",
    )
    list_filter = ("action", "actor_type")
    search_fields = ("api_slug", "actor_name", "object_repr")
    show_full_result_count = False
