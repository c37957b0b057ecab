"""Dashboard forms for webhook subscriptions (validation proper is in the services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.db.models import QuerySet

from policies.events import EVENT_TYPES
from policies.services import ValidationFailed
from webhooks.models import Format

GLOBAL = "__global__"


class _ServiceErrors(forms.Form):
    def add_service_errors(self, failure: ValidationFailed) -> None:
        for name, messages in failure.errors.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)


class SubscriptionForm(_ServiceErrors):
    name = forms.CharField(max_length=100, help_text="Where the events go, e.g. “ops Slack”.")
    url = forms.CharField(
        max_length=2000,
        label="URL",
        help_text="The receiver's https:// URL (public addresses only; redirects are not "
        "followed). For Slack: the incoming-webhook URL.",
    )
    format = forms.ChoiceField(choices=Format.choices, initial=Format.STANDARD)
    event_types = forms.MultipleChoiceField(
        choices=[(key, key) for key in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        label="Events",
        initial=["policy.published"],
    )
    enabled = forms.BooleanField(required=False, initial=True)
    comment = forms.CharField(
        required=False, max_length=1000, label="Why", help_text="Recorded in the audit log."
    )


class CreateSubscriptionForm(SubscriptionForm):
    team = forms.ChoiceField(help_text="Events about this team's APIs are sent.")
    field_order = ("name", "team", "url", "format", "event_types", "enabled", "comment")

    def __init__(self, *args: Any, teams: QuerySet[Group], superuser: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(str(team.pk), team.name) for team in teams]
        if superuser:
            choices.append((GLOBAL, "Global: every event (superusers)"))
        field = self.fields["team"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices
        self.teams = {str(team.pk): team for team in teams}

    def chosen_team(self) -> Group | None:
        value = self.cleaned_data["team"]
        return None if value == GLOBAL else self.teams[value]


class RotateForm(_ServiceErrors):
    keep_previous_hours = forms.IntegerField(
        min_value=0,
        max_value=168,
        initial=0,
        label="Keep the old secret for (hours)",
        help_text="0 if it leaked; otherwise both secrets sign until the receiver switched.",
    )
    comment = forms.CharField(required=False, max_length=1000, label="Why")


class CommentForm(forms.Form):
    comment = forms.CharField(required=False, max_length=1000, label="Why")
