"""Dashboard forms: parse and check input, then hand it to `policies.services`.

Field checks reuse the pure validators the services use (`policies.fields`,
`policies.origins`), so an error appears beside its field before anything is written; the
services check again when they save.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.utils import timezone

from policies import fields
from policies.dashboard import lintstatus
from policies.dashboard.params import MAX_ID, DayField
from policies.dashboard.simulate import CREDENTIALS_MODES
from policies.lint import Finding
from policies.models import MAX_AGE_HARD_CAP, Api, AuditAction, Environment, Mode, RuleKind
from policies.origins import OriginError, canonical_rule
from policies.services import ValidationFailed

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
EXPIRY_PRESETS = (("", "no preset"), ("1", "1 day"), ("7", "7 days"), ("30", "30 days"))
_DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


def _comment_field() -> forms.CharField:
    return forms.CharField(
        label="Why (recorded in the audit log)",
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": "e.g. preview for ticket PAY-123"}),
    )


def _version_field() -> forms.IntegerField:
    return forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_ID)


def _confirm_field() -> forms.BooleanField:
    return forms.BooleanField(
        label="I understand these warnings and want to save anyway", required=False
    )


def _digest_field() -> forms.CharField:
    # Which warnings were shown: a confirmation only counts for those exact warnings.
    return forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)


class ServiceErrorsMixin:
    """Show a `ValidationFailed` from the services beside the fields that caused it."""

    # service / lint field name -> form field name
    error_fields: Mapping[str, str] = {}
    # New lint warnings of the would-be state, shown with the "I understand" checkbox.
    warnings: Sequence[Finding] = ()

    def add_service_errors(self, failure: ValidationFailed) -> None:
        form: forms.Form = self  # type: ignore[assignment]
        for name, messages in failure.errors.items():
            target: str | None = self.error_fields.get(name, name)
            if target not in form.fields:
                target = None
            for message in messages:
                form.add_error(target, message)


class TokenListField(forms.CharField):
    """Header names typed as a comma- or space-separated list."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        try:
            return fields.clean_header_names(text)
        except fields.FieldError as exc:
            raise forms.ValidationError(exc.message) from None


class ApiCreateForm(ServiceErrorsMixin, forms.Form):
    slug = forms.CharField(
        max_length=64,
        help_text="Lower-case letters, digits and hyphens; consumers name the API by it.",
    )
    name = forms.CharField(max_length=200)
    team = forms.ModelChoiceField(queryset=Group.objects.none(), empty_label=None)
    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.DEVELOPMENT)
    mode = forms.ChoiceField(choices=Mode.choices, initial=Mode.ENFORCE)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    comment = _comment_field()

    def __init__(self, *args: Any, teams: QuerySet[Group], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.ModelChoiceField)
        team_field.queryset = teams

    def service_arguments(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("comment")
        return data


class ApiSettingsForm(ServiceErrorsMixin, forms.Form):
    """The API's settings; `changes()` are keyword arguments of `services.update_api`."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    team = forms.ModelChoiceField(queryset=Group.objects.none(), empty_label=None)
    environment = forms.ChoiceField(choices=Environment.choices)
    mode = forms.ChoiceField(
        choices=Mode.choices,
        help_text="Report only: consumers compute the decision and report refusals, but keep "
        "their local fallback headers. Off: no CORS headers.",
    )
    paths = forms.CharField(
        required=False,
        max_length=fields.MAX_PATHS_LENGTH,
        help_text="Regular expression of request paths the policy covers; empty for all.",
        widget=forms.TextInput(attrs={"placeholder": "^/api/", "spellcheck": "false"}),
    )
    methods = forms.MultipleChoiceField(
        choices=[(m, m) for m in METHODS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    request_headers = TokenListField(
        required=False,
        help_text="Request headers pages may send, e.g. authorization, content-type.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    expose_headers = TokenListField(
        required=False,
        help_text="Response headers pages may read besides the safelisted ones.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    allow_credentials = forms.BooleanField(
        required=False,
        label="Allow credentials (cookies, HTTP auth)",
    )
    max_age = forms.IntegerField(
        min_value=0,
        max_value=MAX_AGE_HARD_CAP,
        label="Preflight max-age (seconds)",
        help_text="How long browsers may reuse a preflight answer (Chromium caps it at 7200).",
    )
    allow_private_network = forms.BooleanField(
        required=False, label="Allow private network access (Access-Control-Allow-Private-Network)"
    )
    allow_null = forms.BooleanField(required=False, label="Allow the null origin")
    allow_all = forms.BooleanField(required=False, label="Allow all origins (*)")
    comment = _comment_field()
    expected_version = _version_field()
    confirm = _confirm_field()
    digest = _digest_field()

    def __init__(
        self,
        *args: Any,
        teams: QuerySet[Group],
        extra_methods: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.ModelChoiceField)
        team_field.queryset = teams
        methods = self.fields["methods"]
        assert isinstance(methods, forms.MultipleChoiceField)
        # Keep any method the API already has that is not among the usual seven.
        methods.choices = [(m, m) for m in (*METHODS, *sorted(set(extra_methods) - set(METHODS)))]
        self.fields["expected_version"].widget.attrs["id"] = "settings-version"

    @classmethod
    def initial_for(cls, state: Mapping[str, Any], team: Group, version: int) -> dict[str, Any]:
        initial = {name: state[name] for name in cls.base_fields if name in state}
        initial["team"] = team
        initial["expected_version"] = version
        return initial

    def clean_paths(self) -> str:
        try:
            return fields.clean_paths(self.cleaned_data["paths"])
        except fields.FieldError as exc:
            raise forms.ValidationError(exc.message) from None

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            name: data[name]
            for name in self.fields
            if name not in ("team", "comment", "expected_version", "confirm", "digest")
        }


class OriginForm(ServiceErrorsMixin, forms.Form):
    """Add an origin rule, or change one (`editing=True` shows the enabled switch)."""

    error_fields = {"origins": "value", "allow_all": "value"}

    kind = forms.ChoiceField(choices=RuleKind.choices, initial=RuleKind.EXACT)
    value = forms.CharField(
        label="Origin",
        max_length=1000,
        widget=forms.TextInput(
            attrs={"placeholder": "https://app.example.com", "spellcheck": "false"}
        ),
    )
    note = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "who uses it"}),
    )
    enabled = forms.BooleanField(required=False, initial=True)
    expires_in = forms.ChoiceField(
        choices=EXPIRY_PRESETS, required=False, label="Allow for", initial=""
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="or until (UTC)",
        input_formats=_DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    comment = _comment_field()
    expected_version = _version_field()
    confirm = _confirm_field()
    digest = _digest_field()

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        if not editing:
            del self.fields["enabled"]
        self.canonical: str | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, value = data.get("kind"), data.get("value")
        if kind and value:
            try:
                self.canonical = canonical_rule(kind, value)
            except OriginError as exc:
                self.add_error("value", exc.message)
        preset = data.get("expires_in")
        expires_at: datetime | None = data.get("expires_at")
        if preset:
            expires_at = timezone.now() + timedelta(days=int(preset))
        if expires_at is not None and expires_at <= timezone.now():
            self.add_error("expires_at", "the expiry is in the past")
        data["expires"] = expires_at
        if not self.editing:
            data["enabled"] = True
        return data

    def rule_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "value": self.canonical or data["value"],
            "note": data["note"],
            "enabled": data["enabled"],
            "expires_at": data["expires"],
        }


class SimulatorForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Its own ids: the settings form on the same page has fields of the same names.
        kwargs.setdefault("auto_id", "sim_%s")
        super().__init__(*args, **kwargs)

    origin = forms.CharField(
        max_length=600,
        widget=forms.TextInput(
            attrs={"placeholder": "https://app.example.com", "spellcheck": "false"}
        ),
    )
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS if m != "OPTIONS"], initial="GET")
    path = forms.CharField(max_length=2000, initial="/", required=False)
    request_headers = forms.CharField(
        required=False,
        max_length=2000,
        label="Request headers",
        widget=forms.TextInput(
            attrs={"placeholder": "authorization, content-type", "spellcheck": "false"}
        ),
    )
    credentials = forms.ChoiceField(choices=CREDENTIALS_MODES, initial="omit")
    private_network = forms.BooleanField(
        required=False, label="Request private network access (page on a public address)"
    )


class ApiFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.SearchInput(
            attrs={"placeholder": "name, slug or origin (https://x.example)", "autofocus": True}
        ),
    )
    team = forms.ModelChoiceField(
        queryset=Group.objects.none(), required=False, empty_label="all teams"
    )
    environment = forms.ChoiceField(
        choices=[("", "all environments"), *Environment.choices], required=False
    )
    mode = forms.ChoiceField(choices=[("", "all modes"), *Mode.choices], required=False)
    lint = forms.ChoiceField(
        choices=[("", "any lint status"), *lintstatus.STATUSES], required=False, label="Lint"
    )

    def __init__(self, *args: Any, teams: QuerySet[Group], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.ModelChoiceField)
        team_field.queryset = teams


class AuditFilterForm(forms.Form):
    api = forms.CharField(required=False, label="API slug", max_length=64)
    actor = forms.CharField(required=False, label="Actor", max_length=150)
    action = forms.ChoiceField(choices=[("", "any action"), *AuditAction.choices], required=False)
    since = DayField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = DayField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(
        required=False,
        label="Origin or text",
        max_length=1000,
        widget=forms.SearchInput(attrs={"placeholder": "https://x.example"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "the end date is before the start date")
        return data


class RollbackForm(forms.Form):
    comment = _comment_field()
    expected_version = _version_field()
    # A rollback is linted and confirmed like any change.
    confirm = _confirm_field()
    digest = _digest_field()


class DeleteApiForm(forms.Form):
    confirm_slug = forms.CharField(label="Type the API's slug to confirm", max_length=64)
    comment = _comment_field()
    expected_version = _version_field()

    def __init__(self, *args: Any, slug: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slug = slug

    def clean_confirm_slug(self) -> str:
        value: str = self.cleaned_data["confirm_slug"].strip()
        if value != self.slug:
            raise forms.ValidationError(f"type {self.slug} to confirm")
        return value


# --- tokens ------------------------------------------------------------------------------------

# Up to this many other APIs are offered as checkboxes; beyond, their slugs are typed.
TOKEN_API_CHECKBOXES = 40
MAX_TOKEN_DAYS = 3650


def _expiry_field() -> forms.IntegerField:
    return forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_TOKEN_DAYS,
        label="Expires after (days)",
        help_text="Empty: the token does not expire (revoke it when it is no longer used).",
        widget=forms.NumberInput(attrs={"placeholder": "never"}),
    )


class _TokenForm(ServiceErrorsMixin, forms.Form):
    error_fields = {"expires_at": "expires_in_days"}

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=days) if days else None


class ServiceTokenForm(_TokenForm):
    """Issue a service token for `api` and, optionally, other APIs the person may edit."""

    error_fields = {"expires_at": "expires_in_days", "apis": "also"}

    name = forms.CharField(
        max_length=100,
        help_text="Which service uses it, e.g. billing-web.",
        widget=forms.TextInput(attrs={"placeholder": "billing-web", "spellcheck": "false"}),
    )
    expires_in_days = _expiry_field()
    also = forms.MultipleChoiceField(
        required=False, label="Also for", widget=forms.CheckboxSelectMultiple
    )
    comment = _comment_field()

    def __init__(self, *args: Any, api: Api, editable: QuerySet[Api], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api = api
        self.editable = editable.exclude(pk=api.pk).order_by("slug")
        others = list(self.editable.values_list("slug", flat=True)[: TOKEN_API_CHECKBOXES + 1])
        if not others:
            del self.fields["also"]
        elif len(others) <= TOKEN_API_CHECKBOXES:
            field = self.fields["also"]
            assert isinstance(field, forms.MultipleChoiceField)
            field.choices = [(slug, slug) for slug in others]
            field.help_text = f"The token reads {api.slug} and the APIs ticked here."
        else:
            self.fields["also"] = forms.CharField(
                required=False,
                max_length=4000,
                label="Also for (API slugs)",
                help_text=f"The token reads {api.slug} and these APIs (slugs separated by "
                "commas or spaces; APIs you may edit).",
                widget=forms.TextInput(attrs={"spellcheck": "false"}),
            )

    def clean_also(self) -> list[str]:
        raw = self.cleaned_data.get("also") or []
        if isinstance(raw, str):
            raw = raw.replace(",", " ").split()
        slugs = sorted({str(slug).strip().lower() for slug in raw} - {"", self.api.slug})
        found = set(self.editable.filter(slug__in=slugs).values_list("slug", flat=True))
        missing = [slug for slug in slugs if slug not in found]
        if missing:
            raise forms.ValidationError(
                f"not an API you may edit: {', '.join(missing)}", code="invalid_choice"
            )
        return slugs

    def apis(self) -> list[Api]:
        """The APIs the token covers: this one first, then the others chosen."""
        slugs = self.cleaned_data.get("also") or []
        return [self.api, *self.editable.filter(slug__in=slugs)]


class AccessTokenForm(_TokenForm):
    name = forms.CharField(
        max_length=100,
        help_text="What uses it, e.g. deploy script or laptop CLI.",
        widget=forms.TextInput(attrs={"placeholder": "deploy script"}),
    )
    expires_in_days = _expiry_field()
    comment = _comment_field()


class RevokeTokenForm(forms.Form):
    comment = _comment_field()
