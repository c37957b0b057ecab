"""Dashboard pages for change requests: the list (to review / mine / all) and one request
(diff, widening, lint findings, the simulator on the proposed policy, discussion, and the
steps: approve, reject, withdraw, apply, break-glass, schedule); promote on an API's page.

Thin: forms parse, `policies.change_requests` acts, `ValidationFailed` becomes the form's
error here; `ChangeRequestPending` and `NotPermitted` are mapped once, in `errors.py`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from policies import change_requests, permissions, services
from policies.actors import Actor
from policies.dashboard import display
from policies.dashboard.auth import login_required
from policies.dashboard.forms import SimulatorForm
from policies.dashboard.simulate import simulate
from policies.documents import document_from_state
from policies.models import Api, ChangeRequest
from policies.models import ChangeRequestState as State

TABS = ("review", "mine", "all")


class TextForm(forms.Form):
    text = forms.CharField(max_length=5000, required=False, widget=forms.Textarea({"rows": 2}))


class ScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(
        required=False,
        label="Apply at (UTC, once approved; empty: at once)",
        widget=forms.DateTimeInput({"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class PromoteForm(forms.Form):
    target: forms.ModelChoiceField[Api] = forms.ModelChoiceField(
        queryset=Api.objects.none(), label="Onto", to_field_name="slug"
    )
    comment = forms.CharField(max_length=1000, label="Why (recorded in the audit log)")

    def __init__(self, *args: Any, targets: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = targets  # type: ignore[attr-defined]


@login_required
def change_request_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    tab = request.GET.get("show", "review")
    if tab not in TABS:
        tab = "review"
    found = {
        "review": change_requests.to_review(user),
        "mine": change_requests.mine(user),
        "all": change_requests.visible(user),
    }[tab]
    state = request.GET.get("state", "")
    if state in State.values:
        found = found.filter(state=state)
    page = Paginator(found.order_by("-pk"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/change_requests.html",
        {"page": page, "tab": tab, "state": state, "states": State.choices},
    )


def _visible_or_404(request: HttpRequest, pk: int) -> ChangeRequest:
    return get_object_or_404(
        change_requests.visible(request.user).prefetch_related("approvals", "comments"), pk=pk
    )


def _render(
    request: HttpRequest, found: ChangeRequest, *, status: int = 200, **forms_: Any
) -> HttpResponse:
    user = request.user
    api = found.api
    pending = found.state in change_requests.PENDING
    can_edit = permissions.can_edit(user, api)
    approved_by = {approval.user_id for approval in found.approvals.all()}
    simulator = SimulatorForm(request.GET or None)
    simulation = None
    if simulator.is_valid():
        data = simulator.cleaned_data
        document = document_from_state(
            found.proposed_state, version=api.version + 1, updated_at=timezone.now()
        )
        simulation = simulate(
            document,
            origin=data["origin"].strip(),
            method=data["method"],
            path=data["path"],
            request_headers=data["request_headers"],
            credentials=data["credentials"],
            private_network=data["private_network"],
        )
    context = {
        "cr": found,
        "api": api,
        "rows": display.diff_rows(found.plan.get("diff")),
        "findings": found.plan.get("findings", []),
        "widens": found.plan.get("widens", []),
        "stale": pending and found.base_version != api.version,
        "is_author": found.author_id == user.pk,
        "can_approve": pending
        and can_edit
        and found.state == State.OPEN
        and found.author_id != user.pk
        and user.pk not in approved_by,
        "can_reject": pending and can_edit and found.author_id != user.pk,
        "can_apply": found.state == State.APPROVED and can_edit,
        "can_withdraw": pending and found.author_id == user.pk,
        "can_break_glass": pending and getattr(user, "is_superuser", False),
        "can_discuss": True,
        "can_schedule": pending and can_edit,
        "simulator": simulator,
        "simulation": simulation,
        "approve_form": forms_.get("approve_form") or TextForm(prefix="approve"),
        "reject_form": forms_.get("reject_form") or TextForm(prefix="reject"),
        "withdraw_form": forms_.get("withdraw_form") or TextForm(prefix="withdraw"),
        "glass_form": forms_.get("glass_form") or TextForm(prefix="glass"),
        "discuss_form": forms_.get("discuss_form") or TextForm(prefix="discuss"),
        "schedule_form": forms_.get("schedule_form")
        or ScheduleForm(prefix="schedule", initial={"scheduled_at": found.scheduled_at}),
        "problem": forms_.get("problem", ""),
    }
    return render(request, "dashboard/change_request.html", context, status=status)


@login_required
def change_request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render(request, _visible_or_404(request, pk))


STEPS = ("approve", "reject", "withdraw", "apply", "glass", "discuss", "schedule")


@login_required
@require_POST
def change_request_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    """One step on a request; the form's text is its comment, reason or message."""
    found = _visible_or_404(request, pk)
    if step not in STEPS:
        return _render(request, found, status=404, problem=f"no step {step!r}")
    actor = Actor.for_user(request.user)
    form: forms.Form
    if step == "schedule":
        form = ScheduleForm(request.POST, prefix="schedule")
    else:
        form = TextForm(request.POST, prefix=step)
    if not form.is_valid():
        return _render(request, found, status=422, **{f"{step}_form": form})
    text = form.cleaned_data.get("text", "")
    notices = {
        "approve": "Approved.",
        "reject": "Rejected.",
        "withdraw": "Withdrawn.",
        "apply": "Applied.",
        "glass": "Applied at once (break-glass); the audit log marks it.",
        "discuss": "Added to the discussion.",
        "schedule": "Schedule saved.",
    }
    try:
        if step == "approve":
            change_requests.approve(actor=actor, request=found, comment=text)
        elif step == "reject":
            change_requests.reject(actor=actor, request=found, reason=text)
        elif step == "withdraw":
            change_requests.withdraw(actor=actor, request=found, reason=text)
        elif step == "apply":
            change_requests.apply(actor=actor, request=found)
        elif step == "glass":
            if not text.strip():
                raise services.ValidationFailed({"text": ["say why this cannot wait"]})
            change_requests.apply(actor=actor, request=found, break_glass=text)
        elif step == "discuss":
            change_requests.discuss(actor=actor, request=found, text=text)
        else:
            change_requests.schedule(
                actor=actor, request=found, at=form.cleaned_data["scheduled_at"]
            )
    except services.ValidationFailed as failure:
        for messages_ in failure.errors.values():
            for message in messages_:
                form.add_error(None, message)
        found = _visible_or_404(request, pk)
        return _render(request, found, status=422, **{f"{step}_form": form})
    found.refresh_from_db()
    notice = notices[step]
    if step == "approve" and found.state == State.APPLIED:
        notice = f"Approved and applied: {found.api.slug} is now version {found.applied_version}."
    messages.success(request, notice)
    return redirect("dashboard:change-request", pk=found.pk)


@login_required
@require_POST
def api_promote(request: HttpRequest, slug: str) -> HttpResponse:
    source = get_object_or_404(permissions.visible_apis(request.user), slug=slug)
    targets = permissions.visible_apis(request.user).filter(
        team__in=permissions.editable_teams(request.user)
    )
    form = PromoteForm(request.POST, targets=targets.exclude(pk=source.pk))
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"Promote: {field}: {error}")
        return redirect("dashboard:api-detail", slug=source.slug)
    target = form.cleaned_data["target"]
    try:
        promoted = change_requests.promote(
            actor=Actor.for_user(request.user),
            source=source,
            target=target,
            comment=form.cleaned_data["comment"],
        )
    except services.ValidationFailed as failure:
        messages.error(request, f"Promote: {failure.message}")
        return redirect("dashboard:api-detail", slug=source.slug)
    messages.success(request, f"Promoted {source.slug} onto {promoted.slug}.")
    return redirect("dashboard:api-detail", slug=promoted.slug)


def promote_form(request: HttpRequest, api: Any) -> PromoteForm | None:
    """The promote form for an API's page: onto APIs of the same team in another
    environment that the user may edit (None when there is none)."""
    targets = (
        permissions.visible_apis(request.user)
        .filter(team__in=permissions.editable_teams(request.user), team=api.team)
        .exclude(environment=api.environment)
    )
    if not targets.exists():
        return None
    return PromoteForm(targets=targets)
