"""Dashboard pages for APIs: list, create, detail (origins, settings, simulator), history.

Views stay thin: forms parse input, `policies.services` writes (with the person as the actor
and the form's "why" as the comment), `queries`/`preview`/`simulate` read. Another team's
API is a 404 everywhere; a person who may see but not edit gets a 403 on any write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from policies import change_requests, permissions, services
from policies.actors import Actor
from policies.audit import field_diff
from policies.dashboard import (
    change_request_views,
    consumers,
    display,
    lintstatus,
    params,
    preview,
    queries,
)
from policies.dashboard.auth import login_required
from policies.dashboard.forms import (
    ApiCreateForm,
    ApiFilterForm,
    ApiSettingsForm,
    DeleteApiForm,
    OriginForm,
    RollbackForm,
    SimulatorForm,
)
from policies.dashboard.simulate import Simulation, simulate
from policies.documents import api_state, compile_document
from policies.lint import BROWSER_MAX_AGE_CAP, Finding
from policies.models import Api, OriginRule, PolicyVersion

PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 50
ORIGINS_PAGE_SIZE = 100


class DashboardRequest(HttpRequest):
    htmx: HtmxDetails


# --- helpers -------------------------------------------------------------------------------


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def _api_or_404(request: HttpRequest, slug: str) -> Api:
    return get_object_or_404(
        permissions.visible_apis(request.user).select_related("team", "updated_by"), slug=slug
    )


def _require_edit(request: HttpRequest, api: Api) -> None:
    if not permissions.can_edit(request.user, api):
        raise PermissionDenied("you may see this API but not change it")


def _rule_or_404(api: Api, rule_id: int) -> OriginRule:
    return get_object_or_404(OriginRule.objects.select_related("api__team"), pk=rule_id, api=api)


def _rules(api: Api) -> QuerySet[OriginRule]:
    # (kind, value) is unique per API: a stable order for pages.
    return api.origins.select_related("created_by").order_by("kind", "value")


def _page_of(api: Api, rule_id: int) -> int | None:
    """The origins page (1-based) on which rule ``rule_id`` is listed; None if not this API's."""
    rule = api.origins.filter(pk=rule_id).values("kind", "value").first()
    if rule is None:
        return None
    before = api.origins.filter(
        Q(kind__lt=rule["kind"]) | Q(kind=rule["kind"], value__lt=rule["value"])
    ).count()
    return before // ORIGINS_PAGE_SIZE + 1


def _origins_page_number(request: HttpRequest) -> int | None:
    """The origins page asked for: ``?opage=`` on a page load, or on the page an HTMX
    request was made from (its ``HX-Current-URL``), so an edit keeps the person's page."""
    if request.method == "GET" and "opage" in request.GET:
        return params.integer(request.GET, "opage", minimum=1)
    current = request.headers.get("HX-Current-URL")
    if current:
        query = QueryDict(urlsplit(current).query)
        try:
            return params.integer(query, "opage", minimum=1)
        except params.BadParameter:
            return None  # the page the person is on has a mangled link: start at the first
    return None


def _mark_expired(rules: Iterable[OriginRule]) -> None:
    now = timezone.now()
    for rule in rules:
        rule.is_expired = rule.expires_at is not None and rule.expires_at <= now  # type: ignore[attr-defined]


def _warnings_digest(warnings: list[Finding]) -> str:
    keys = sorted(f"{w.rule}\0{w.field}\0{w.value}" for w in warnings)
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def _needs_confirmation(form: Any, warnings: list[Finding]) -> bool:
    """True (and the form set up to ask) unless these exact warnings were confirmed."""
    if not warnings:
        return False
    digest = _warnings_digest(warnings)
    data: QueryDict = form.data
    confirmed = form.cleaned_data.get("confirm") and data.get(form.add_prefix("digest")) == digest
    if confirmed:
        return False
    form.warnings = warnings
    data[form.add_prefix("digest")] = digest
    data.pop(form.add_prefix("confirm"), None)
    return True


def _set_version(form: Any, version: int) -> None:
    form.data[form.add_prefix("expected_version")] = str(version)


def _propagation(api: Api) -> dict[str, Any]:
    poll = int(settings.CORSADMIN_CONSUMER_POLL_SECONDS)
    cached = min(api.max_age, BROWSER_MAX_AGE_CAP)
    total = poll + cached
    return {
        "poll": poll,
        "cached": cached,
        "total": total,
        "human": display.seconds(total),
        "cap": BROWSER_MAX_AGE_CAP,
    }


def _origin_form(api: Api) -> OriginForm:
    return OriginForm(prefix="add", initial={"expected_version": api.version})


def _edit_form(api: Api, rule: OriginRule) -> OriginForm:
    return OriginForm(
        prefix=f"o{rule.pk}",
        editing=True,
        initial={
            "kind": rule.kind,
            "value": rule.value,
            "note": rule.note,
            "enabled": rule.enabled,
            "expires_at": rule.expires_at,
            "expected_version": api.version,
        },
    )


def _settings_form(
    request: HttpRequest, api: Api, data: QueryDict | None = None
) -> ApiSettingsForm:
    teams = permissions.editable_teams(request.user)
    if data is not None:
        return ApiSettingsForm(data, teams=teams, extra_methods=api.methods)
    return ApiSettingsForm(
        initial=ApiSettingsForm.initial_for(api_state(api), api.team, api.version),
        teams=teams,
        extra_methods=api.methods,
    )


def _origins_context(
    request: HttpRequest,
    api: Api,
    *,
    add_form: OriginForm | None = None,
    editing: int | None = None,
    edit_form: OriginForm | None = None,
    notice: str = "",
    problem: str = "",
    refused_oob: bool = False,
) -> dict[str, Any]:
    number = _page_of(api, editing) if editing is not None else None
    page = Paginator(_rules(api), ORIGINS_PAGE_SIZE).get_page(
        number or _origins_page_number(request)
    )
    rules = list(page.object_list)
    _mark_expired(rules)
    if editing is not None and edit_form is None:
        current = next((r for r in rules if r.pk == editing), None)
        edit_form = _edit_form(api, current) if current else None
    document = compile_document(api)
    context = {
        "api": api,
        "rules": rules,
        "origins_page": page,
        "can_edit": permissions.can_edit(request.user, api),
        "add_form": add_form or _origin_form(api),
        "editing": editing,
        "edit_form": edit_form,
        "notice": notice,
        "problem": problem,
        "findings": lintstatus.findings_for(api, document),
        "document": document,
        "document_json": display.pretty_json(document),
    }
    if refused_oob:
        # An origin allowed from the refused-origins panel: that panel changes too.
        context.update(_refused_context(api, document), refused_oob=True)
    return context


def _refused_context(api: Api, document: dict[str, Any]) -> dict[str, Any]:
    rows, total = consumers.refused(api, document)
    hours = int(consumers.REFUSED_WITHIN.total_seconds() // 3600)
    return {"refused": rows, "refused_total": total, "refused_hours": hours}


def _consumers_context(api: Api) -> dict[str, Any]:
    rows, total = consumers.instances(api)
    return {
        "consumers": rows,
        "consumers_total": total,
        "consumers_summary": consumers.summary(rows),
        "consumers_poll": int(settings.CORSADMIN_CONSUMER_POLL_SECONDS),
        "consumers_grace": display.seconds(int(consumers.lag_grace().total_seconds())),
    }


def _render_detail(
    request: HttpRequest,
    api: Api,
    *,
    status: int = 200,
    settings_form: ApiSettingsForm | None = None,
    simulator: SimulatorForm | None = None,
    simulation: Simulation | None = None,
    stale_changes: list[dict[str, Any]] | None = None,
    **origins: Any,
) -> HttpResponse:
    context = _origins_context(request, api, **origins)
    context.update(
        settings_form=settings_form or _settings_form(request, api),
        simulator=simulator or SimulatorForm(),
        simulation=simulation,
        stale_rows=display.diff_rows(stale_changes),
        propagation=_propagation(api),
        summary=display.settings_summary(api),
        **_refused_context(api, context["document"]),
        **_consumers_context(api),
        pending_requests=change_requests.pending_for(api),
        promote_form=change_request_views.promote_form(request, api),
    )
    return render(request, "dashboard/api_detail.html", context, status=status)


def _origins_response(
    request: DashboardRequest, api: Api, *, status: int = 200, **origins: Any
) -> HttpResponse:
    """The origins section (and, out of band, the version and the lint panel) for HTMX."""
    api = _api_or_404(request, api.slug)  # the services saved another instance
    if not request.htmx:
        if status >= 400:
            return _render_detail(request, api, status=status, **origins)
        if origins.get("notice"):
            messages.success(request, origins["notice"])
        return redirect(reverse("dashboard:api-detail", args=[api.slug]) + "#origins")
    context = _origins_context(request, api, **origins)
    return render(request, "dashboard/_origins_swap.html", context, status=status)


# --- list and create -------------------------------------------------------------------------


@login_required
def api_list(request: DashboardRequest) -> HttpResponse:
    user = request.user
    teams = permissions.editable_teams(user)
    if permissions.sees_everything(user):  # superusers and auditors
        filter_teams = Group.objects.exclude(name__in=permissions.ROLE_GROUPS)
    else:
        filter_teams = Group.objects.filter(id__in=permissions.team_ids(user)).exclude(
            name__in=permissions.ROLE_GROUPS
        )
    form = ApiFilterForm(request.GET or None, teams=filter_teams.order_by("name"))
    apis = queries.api_list(user)
    origin = None
    if form.is_valid():
        data = form.cleaned_data
        apis, origin = queries.search_apis(apis, data["q"])
        if data["team"]:
            apis = apis.filter(team=data["team"])
        if data["environment"]:
            apis = apis.filter(environment=data["environment"])
        if data["mode"]:
            apis = apis.filter(mode=data["mode"])
        if data["lint"]:
            apis = lintstatus.filter_by_status(apis, data["lint"])
    page = Paginator(apis, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    freshness = consumers.freshness_by_api(api.pk for api in rows)
    for api in rows:
        api.consumer_cells = consumers.describe(freshness.get(api.pk))  # type: ignore[attr-defined]
    return render(
        request,
        "dashboard/api_list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "origin": origin,
            "can_create": teams.exists(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def api_create(request: DashboardRequest) -> HttpResponse:
    teams = permissions.editable_teams(request.user)
    if not teams.exists():
        raise PermissionDenied("you are not a member of a team that may create APIs")
    form = ApiCreateForm(request.POST or None, teams=teams.order_by("name"))
    if request.method == "POST" and form.is_valid():
        try:
            api = services.create_api(
                actor=_actor(request),
                comment=form.cleaned_data["comment"],
                **form.service_arguments(),
            )
        except services.ValidationFailed as failure:
            form.add_service_errors(failure)
        except services.NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        else:
            messages.success(request, f"Created {api.slug}. Add the origins that may call it.")
            return redirect("dashboard:api-detail", slug=api.slug)
    status = 422 if form.is_bound else 200
    return render(request, "dashboard/api_create.html", {"form": form}, status=status)


# --- detail, settings, simulator --------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def api_detail(request: DashboardRequest, slug: str) -> HttpResponse:
    api = _api_or_404(request, slug)
    if request.method == "GET":
        return _render_detail(request, api, editing=params.integer(request.GET, "edit"))
    # POST: the settings form.
    _require_edit(request, api)
    form = _settings_form(request, api, request.POST.copy())
    stale: list[dict[str, Any]] | None = None
    if form.is_valid():
        data = form.cleaned_data
        changes = form.changes()
        team = data["team"]
        try:
            state = preview.settings_state(api, changes, team.name)
            warnings = preview.new_warnings(api, state)
            if not _needs_confirmation(form, warnings):
                services.update_api(
                    actor=_actor(request),
                    api=api,
                    expected_version=data["expected_version"],
                    comment=data["comment"],
                    team=team if team.pk != api.team_id else None,
                    **changes,
                )
                messages.success(request, "Settings saved.")
                return redirect("dashboard:api-detail", slug=api.slug)
        except services.ValidationFailed as failure:
            form.add_service_errors(failure)
        except services.StaleVersion as exc:
            form.add_error(None, exc.message)
            stale = preview.changes_since(api, exc.expected)
            _set_version(form, exc.current)
        except services.NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
    return _render_detail(request, api, status=422, settings_form=form, stale_changes=stale)


@login_required
def api_simulate(request: DashboardRequest, slug: str) -> HttpResponse:
    api = _api_or_404(request, slug)
    form = SimulatorForm(request.GET or None)
    simulation = None
    if form.is_valid():
        data = form.cleaned_data
        simulation = simulate(
            compile_document(api),
            origin=data["origin"].strip(),
            method=data["method"],
            path=data["path"],
            request_headers=data["request_headers"],
            credentials=data["credentials"],
            private_network=data["private_network"],
        )
    if request.htmx:
        return render(
            request,
            "dashboard/_simulation.html",
            {"api": api, "simulator": form, "simulation": simulation},
        )
    return _render_detail(request, api, simulator=form, simulation=simulation)


# --- origin rules (inline, HTMX) ----------------------------------------------------------------


@login_required
def origins_section(request: DashboardRequest, slug: str) -> HttpResponse:
    return _origins_response(request, _api_or_404(request, slug))


def _save_origin(
    request: DashboardRequest,
    api: Api,
    form: OriginForm,
    rule: OriginRule | None,
    **extra: Any,
) -> HttpResponse:
    origins: dict[str, Any] = (
        {"add_form": form} if rule is None else {"editing": rule.pk, "edit_form": form}
    )
    origins.update(extra)
    if form.is_valid():
        values = form.rule_values()
        data = form.cleaned_data
        try:
            state = preview.origin_state(api, **values, replacing=rule)
            warnings = preview.new_warnings(api, state)
            if not _needs_confirmation(form, warnings):
                actor = _actor(request)
                if rule is None:
                    services.add_origin(
                        actor=actor,
                        api=api,
                        expected_version=data["expected_version"],
                        comment=data["comment"],
                        **values,
                    )
                    notice = f"Added {values['value']}."
                else:
                    services.update_origin(
                        actor=actor,
                        rule=rule,
                        expected_version=data["expected_version"],
                        comment=data["comment"],
                        **values,
                    )
                    notice = f"Saved {values['value']}."
                return _origins_response(request, api, notice=notice, **extra)
        except services.ValidationFailed as failure:
            form.add_service_errors(failure)
        except services.StaleVersion as exc:
            form.add_error(None, exc.message)
            _set_version(form, exc.current)
        except services.NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
    return _origins_response(request, api, status=422, **origins)


@login_required
@require_POST
def origin_add(request: DashboardRequest, slug: str) -> HttpResponse:
    api = _api_or_404(request, slug)
    _require_edit(request, api)
    form = OriginForm(request.POST.copy(), prefix="add")
    return _save_origin(request, api, form, None)


@login_required
@require_POST
def refused_allow(request: DashboardRequest, slug: str) -> HttpResponse:
    """Allow an origin consumers refused: an exact rule added through the add-origin path,
    so it is validated, linted (new warnings need the usual confirmation) and audited."""
    api = _api_or_404(request, slug)
    _require_edit(request, api)
    data = QueryDict(mutable=True)
    data.update(
        {
            "add-kind": "exact",
            "add-value": request.POST.get("origin", "")[:1000],
            "add-note": "allowed from the refused origins",
            "add-comment": _comment(request),
            # Not the page's version: other edits since then do not change whether
            # this origin should be allowed, and the services lint the current state.
            "add-expected_version": str(api.version),
        }
    )
    form = OriginForm(data, prefix="add")
    return _save_origin(request, api, form, None, refused_oob=True)


@login_required
@require_http_methods(["GET", "POST"])
def origin_edit(request: DashboardRequest, slug: str, rule_id: int) -> HttpResponse:
    api = _api_or_404(request, slug)
    rule = _rule_or_404(api, rule_id)
    _require_edit(request, api)
    if request.method == "GET":
        if not request.htmx:
            url = reverse("dashboard:api-detail", args=[api.slug])
            return redirect(f"{url}?edit={rule.pk}#origin-{rule.pk}")
        context = _row_context(request, api, rule)
        context["edit_form"] = _edit_form(api, rule)
        return render(request, "dashboard/_origin_edit_row.html", context)
    form = OriginForm(request.POST.copy(), prefix=f"o{rule.pk}", editing=True)
    return _save_origin(request, api, form, rule)


@login_required
def origin_row(request: DashboardRequest, slug: str, rule_id: int) -> HttpResponse:
    api = _api_or_404(request, slug)
    rule = _rule_or_404(api, rule_id)
    if not request.htmx:
        return redirect(reverse("dashboard:api-detail", args=[api.slug]) + f"#origin-{rule.pk}")
    return render(request, "dashboard/_origin_row.html", _row_context(request, api, rule))


def _row_context(request: HttpRequest, api: Api, rule: OriginRule) -> dict[str, Any]:
    """What one origin row needs (not the whole section: it may be one of many pages)."""
    _mark_expired([rule])
    return {"api": api, "rule": rule, "can_edit": permissions.can_edit(request.user, api)}


def _comment(request: HttpRequest) -> str:
    # hx-prompt sends the answer in a header; a plain form posts it.
    return (request.headers.get("HX-Prompt") or request.POST.get("comment") or "").strip()[:1000]


def _expected_version(request: HttpRequest) -> int | None:
    return params.integer(request.POST, "expected_version", minimum=1)


@login_required
@require_POST
def origin_toggle(request: DashboardRequest, slug: str, rule_id: int) -> HttpResponse:
    api = _api_or_404(request, slug)
    rule = _rule_or_404(api, rule_id)
    _require_edit(request, api)
    enable = not rule.enabled
    try:
        if enable:
            state = preview.origin_state(
                api,
                kind=rule.kind,
                value=rule.value,
                note=rule.note,
                enabled=True,
                expires_at=rule.expires_at,
                replacing=rule,
            )
            if preview.new_warnings(api, state):
                # Enabling brings new warnings: show the rule's form so they can be confirmed.
                data = QueryDict(mutable=True)
                prefix = f"o{rule.pk}"
                form = OriginForm(data, prefix=prefix, editing=True)
                data.update(
                    {
                        f"{prefix}-kind": rule.kind,
                        f"{prefix}-value": rule.value,
                        f"{prefix}-note": rule.note,
                        f"{prefix}-enabled": "on",
                        f"{prefix}-comment": _comment(request),
                        f"{prefix}-expected_version": str(api.version),
                    }
                )
                if rule.expires_at:
                    data[f"{prefix}-expires_at"] = rule.expires_at.strftime("%Y-%m-%dT%H:%M")
                return _save_origin(request, api, form, rule)
        services.update_origin(
            actor=_actor(request),
            rule=rule,
            enabled=enable,
            expected_version=_expected_version(request),
            comment=_comment(request),
        )
    except services.ValidationFailed as failure:
        return _origins_response(request, api, status=422, problem=str(failure))
    except services.StaleVersion as exc:
        return _origins_response(request, api, status=409, problem=exc.message)
    except services.NotPermitted as exc:
        raise PermissionDenied(exc.message) from None
    verb = "Enabled" if enable else "Disabled"
    return _origins_response(request, api, notice=f"{verb} {rule.value}.")


@login_required
@require_POST
def origin_remove(request: DashboardRequest, slug: str, rule_id: int) -> HttpResponse:
    api = _api_or_404(request, slug)
    rule = _rule_or_404(api, rule_id)
    _require_edit(request, api)
    try:
        services.remove_origin(
            actor=_actor(request),
            rule=rule,
            expected_version=_expected_version(request),
            comment=_comment(request),
        )
    except services.StaleVersion as exc:
        return _origins_response(request, api, status=409, problem=exc.message)
    except services.NotPermitted as exc:
        raise PermissionDenied(exc.message) from None
    return _origins_response(request, api, notice=f"Removed {rule.value}.")


# --- history and rollback ----------------------------------------------------------------------


@login_required
def api_history(request: DashboardRequest, slug: str) -> HttpResponse:
    api = _api_or_404(request, slug)
    versions = PolicyVersion.objects.filter(api=api).order_by("-version")
    at = params.integer(request.GET, "at")
    page_number: Any = request.GET.get("page")
    if at is not None:
        page_number = versions.filter(version__gt=at).count() // HISTORY_PAGE_SIZE + 1
    page = Paginator(
        versions.only("version", "created_at", "actor_name", "comment", "api_id"), HISTORY_PAGE_SIZE
    ).get_page(page_number)
    newer = params.integer(request.GET, "b") or api.version
    older = params.integer(request.GET, "a")
    if older is None:
        older = newer - 1
    states = dict(versions.filter(version__in=[older, newer]).values_list("version", "state"))
    compare = None
    if older in states and newer in states:
        compare = {
            "a": older,
            "b": newer,
            "rows": display.diff_rows(field_diff(states[older], states[newer])),
        }
    return render(
        request,
        "dashboard/api_history.html",
        {
            "api": api,
            "page": page,
            "compare": compare,
            "can_edit": permissions.can_edit(request.user, api),
            "at": at,
        },
    )


class _Unconfirmed(Exception):
    """New lint warnings the person has not confirmed yet (the form asks)."""


@login_required
@require_http_methods(["GET", "POST"])
def api_rollback(request: DashboardRequest, slug: str, version: int) -> HttpResponse:
    api = _api_or_404(request, slug)
    _require_edit(request, api)
    target = get_object_or_404(PolicyVersion, api=api, version=version)
    form = RollbackForm(
        request.POST.copy() if request.method == "POST" else None,
        initial={"expected_version": api.version},
    )
    if request.method == "POST" and form.is_valid():
        try:
            # Linted and confirmed like any change: new warnings need an explicit yes.
            if _needs_confirmation(form, preview.new_warnings(api, target.state)):
                raise _Unconfirmed
            rolled = services.rollback(
                actor=_actor(request),
                api=api,
                to_version=version,
                expected_version=form.cleaned_data["expected_version"],
                comment=form.cleaned_data["comment"],
            )
        except services.ValidationFailed as failure:
            for messages_ in failure.errors.values():
                for message in messages_:
                    form.add_error(None, message)
        except services.StaleVersion as exc:
            form.add_error(None, exc.message)
        except services.NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        except _Unconfirmed:
            pass  # the form now shows the warnings and asks
        else:
            messages.success(
                request, f"Rolled back to version {version}: this is version {rolled.version}."
            )
            url = reverse("dashboard:api-history", args=[api.slug])
            return redirect(f"{url}?at={rolled.version}#v{rolled.version}")
    return render(
        request,
        "dashboard/api_rollback.html",
        {
            "api": api,
            "target": target,
            "form": form,
            "rows": display.diff_rows(field_diff(api_state(api), target.state)),
        },
        status=422 if form.is_bound else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def api_delete(request: DashboardRequest, slug: str) -> HttpResponse:
    api = _api_or_404(request, slug)
    _require_edit(request, api)
    form = DeleteApiForm(
        request.POST or None, slug=api.slug, initial={"expected_version": api.version}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_api(
                actor=_actor(request),
                api=api,
                expected_version=form.cleaned_data["expected_version"],
                comment=form.cleaned_data["comment"],
            )
        except services.StaleVersion as exc:
            form.add_error(None, exc.message)
        except services.NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        else:
            messages.success(request, f"Deleted {api.slug}. Its audit events are kept.")
            return redirect("dashboard:api-list")
    return render(
        request,
        "dashboard/api_delete.html",
        {"api": api, "form": form},
        status=422 if form.is_bound else 200,
    )
