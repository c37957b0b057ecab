"""Change requests, teams and the auditor in the dashboard (Django's test client, real DB)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from policies import audit, services
from policies.actors import Actor
from policies.models import Api, AuditEvent, ChangeRequest, OriginRule, TeamRole

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(name: str, *args: Any) -> str:
    return reverse(f"dashboard:{name}", args=args)


def _html(response: Any) -> str:
    return response.content.decode()


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _user(name: str, *groups: Group, superuser: bool = False) -> User:
    user = User.objects.create_user(name, password=f"pw-{name}-12345", is_superuser=superuser)
    user.groups.add(*groups)
    return user


@pytest.fixture
def prod(member: User, team: Group) -> Api:
    # Set-up, not the flow under test: a person creating a production API with an origin
    # would itself wait for approval (test_create_production_api__...).
    return services.create_api(
        actor=Actor.system("set-up"),
        slug="billing",
        name="Billing",
        team=team,
        environment="production",
        origins=[{"kind": "exact", "value": "https://app.example.com"}],
    )


def _add_origin(client: Client, api: Api, value: str, comment: str, **extra: Any) -> Any:
    data = {
        "add-kind": "exact",
        "add-value": value,
        "add-note": "",
        "add-expires_in": "",
        "add-expires_at": "",
        "add-comment": comment,
        "add-expected_version": str(api.version),
    }
    return client.post(_url("origin-add", api.slug), data, **extra)


def test_add_origin__production__taken_to_the_request_not_applied(
    member_client: Client, prod: Api
) -> None:
    # When the editor adds an origin without a why, Then the form says a why is needed
    response = _add_origin(member_client, prod, "https://partner.example.com", "", **HTMX)
    assert response.status_code == 422
    assert "say why" in _html(response)
    # When with a why (HTMX, as the page does), Then the browser is sent to the request
    response = _add_origin(member_client, prod, "https://partner.example.com", "partner", **HTMX)
    request = ChangeRequest.objects.get()
    assert response["HX-Redirect"] == _url("change-request", request.pk)
    assert not OriginRule.objects.filter(value="https://partner.example.com").exists()
    # And the request's page shows the diff, what widens, lint and a note for its author
    page = _html(member_client.get(_url("change-request", request.pk)))
    assert "+</span> {&#x27;enabled&#x27;: True" not in page  # items are shown as origins
    assert "https://partner.example.com" in page
    assert "exact origin https://partner.example.com allowed" in page
    assert "another editor of team payments approves it" in page
    assert f'action="/change-requests/{request.pk}/approve/"' not in page
    # And the API page lists it as pending
    detail = _html(member_client.get(_url("api-detail", prod.slug)))
    assert f"#{request.pk} add exact origin https://partner.example.com" in detail


def test_simulator__proposed_policy__allows_the_new_origin(
    member_client: Client, prod: Api, actor: Actor
) -> None:
    with pytest.raises(services.ChangeRequestPending) as pending:
        services.add_origin(actor=actor, api=prod, value="https://partner.example.com", comment="p")
    url = _url("change-request", pending.value.change_request.pk)
    query = {
        "origin": "https://partner.example.com",
        "method": "GET",
        "path": "/",
        "credentials": "omit",
    }
    page = _html(member_client.get(url, query))
    # The proposed policy allows it, while the API's current policy does not
    assert "sim-ok" in page
    current = _html(member_client.get(_url("api-simulate", prod.slug), query))
    assert "sim-blocked" in current


def test_review__approver_counts_and_approves__author_refused(
    member_client: Client, prod: Api, actor: Actor, team: Group
) -> None:
    with pytest.raises(services.ChangeRequestPending) as pending:
        services.update_api(actor=actor, api=prod, allow_credentials=True, comment="cookies")
    request = pending.value.change_request
    approver = _client(_user("ada", team))
    # The approver's header counts one to review; the list shows it
    listing = _html(approver.get(_url("change-requests")))
    assert 'id="header-review-count" title="to review">1<' in listing
    assert request.title in listing
    # The author cannot approve (403), even by posting the form
    refused = member_client.post(_url("change-request-step", request.pk, "approve"))
    assert refused.status_code == 403
    # The approver approves: applied at once
    response = approver.post(
        _url("change-request-step", request.pk, "approve"), {"approve-text": "ok"}
    )
    assert response.status_code == 302
    prod.refresh_from_db()
    assert prod.allow_credentials is True
    page = _html(approver.get(_url("change-request", request.pk)))
    assert "Approved and applied" in page
    assert 'id="cr-state">Applied<' in page


def test_reject__without_reason__form_error_then_rejected(
    prod: Api, actor: Actor, team: Group
) -> None:
    with pytest.raises(services.ChangeRequestPending) as pending:
        services.update_api(actor=actor, api=prod, allow_null=True, comment="iframe")
    request = pending.value.change_request
    approver = _client(_user("ada", team))
    url = _url("change-request-step", request.pk, "reject")
    response = approver.post(url, {"reject-text": ""})
    assert response.status_code == 422
    assert "say why the change is rejected" in _html(response)
    approver.post(url, {"reject-text": "null is for sandboxes only"})
    request.refresh_from_db()
    assert request.state == "rejected"


def test_break_glass__superuser_page__applied_and_marked(prod: Api, actor: Actor) -> None:
    with pytest.raises(services.ChangeRequestPending) as pending:
        services.add_origin(actor=actor, api=prod, value="https://hotfix.example.com", comment="x")
    request = pending.value.change_request
    boss = _client(_user("root", superuser=True))
    assert "Break glass" in _html(boss.get(_url("change-request", request.pk)))
    url = _url("change-request-step", request.pk, "glass")
    assert boss.post(url, {"glass-text": ""}).status_code == 422
    boss.post(url, {"glass-text": "checkout down"})
    assert OriginRule.objects.filter(value="https://hotfix.example.com").exists()
    assert AuditEvent.objects.filter(action="change.break_glass").count() == 1
    assert audit.verify_chain()[1] is None


def test_auditor__reads_everything__changes_nothing(prod: Api, actor: Actor) -> None:
    with pytest.raises(services.ChangeRequestPending) as pending:
        services.add_origin(actor=actor, api=prod, value="https://b.example.com", comment="b")
    auditor = _client(_user("audrey", Group.objects.get(name="auditor")))
    # The API list is not empty, the API, its request and the audit log are readable
    assert "billing" in _html(auditor.get(_url("api-list")))
    assert auditor.get(_url("api-detail", prod.slug)).status_code == 200
    assert auditor.get(_url("change-request", pending.value.change_request.pk)).status_code == 200
    assert "change_request.opened" in _html(auditor.get(_url("audit-log")))
    # Writes are refused
    url = _url("change-request-step", pending.value.change_request.pk, "approve")
    assert auditor.post(url).status_code == 403
    response = _add_origin(auditor, prod, "https://c.example.com", "c")
    assert response.status_code == 403


def test_other_team__request_is_404(outsider_client: Client, prod: Api, actor: Actor) -> None:
    with pytest.raises(services.ChangeRequestPending) as pending:
        services.add_origin(actor=actor, api=prod, value="https://b.example.com", comment="b")
    pk = pending.value.change_request.pk
    assert outsider_client.get(_url("change-request", pk)).status_code == 404
    assert outsider_client.post(_url("change-request-step", pk, "approve")).status_code == 404
    assert "Nothing waits for your review" in _html(outsider_client.get(_url("change-requests")))


def test_new_api_form__another_teams_slug__not_revealed(
    outsider_client: Client, prod: Api, other_team: Group
) -> None:
    response = outsider_client.post(
        _url("api-create"),
        {
            "slug": "billing",
            "name": "Mine",
            "team": str(other_team.pk),
            "environment": "staging",
            "mode": "enforce",
        },
    )
    html = _html(response)
    assert response.status_code == 422
    assert "is not available: choose another" in html
    assert "already" not in html


def test_teams__superuser_creates_admin_manages_viewer_cannot_edit(prod: Api, team: Group) -> None:
    boss = _client(_user("root", superuser=True))
    # A superuser creates a team and makes lee its admin
    lee = _user("lee")
    response = boss.post(_url("teams"), {"name": "growth"})
    growth = Group.objects.get(name="growth")
    assert response["Location"] == _url("team", growth.pk)
    boss.post(_url("team", growth.pk), {"do": "add", "username": "lee", "role": "admin"})
    assert TeamRole.objects.get(team=growth, user=lee).role == "admin"
    # lee, a team admin, adds vic as a viewer of growth; vic cannot manage the team
    admin = _client(lee)
    User.objects.create_user("vic", password="pw-vic-12345")
    admin.post(_url("team", growth.pk), {"do": "add", "username": "vic", "role": "viewer"})
    vic = User.objects.get(username="vic")
    assert vic.groups.filter(pk=growth.pk).exists()
    assert (
        _client(vic).post(_url("team", growth.pk), {"do": "remove", "user": lee.pk}).status_code
        == 403
    )
    # lee cannot manage another team (payments): 404, it is not theirs to see
    assert admin.get(_url("team", team.pk)).status_code == 404
    # A viewer of payments sees billing but may not change it
    payments_admin = _user("pat", team)
    TeamRole.objects.create(team=team, user=payments_admin, role="admin")
    _client(payments_admin).post(
        _url("team", team.pk), {"do": "add", "username": "vic", "role": "viewer"}
    )
    viewer = _client(User.objects.get(username="vic"))
    assert viewer.get(_url("api-detail", prod.slug)).status_code == 200
    assert _add_origin(viewer, prod, "https://v.example.com", "v").status_code == 403
    # Every membership step is audited
    actions = list(AuditEvent.objects.filter(object_type="team").values_list("action", flat=True))
    assert actions.count("team.member_added") == 3
    assert "team.created" in actions
    # Removing a member
    _client(payments_admin).post(
        _url("team", team.pk), {"do": "remove", "user": User.objects.get(username="vic").pk}
    )
    assert not User.objects.get(username="vic").groups.filter(pk=team.pk).exists()
    assert audit.verify_chain()[1] is None


def test_django_admin__widening_production_origin__refused_with_where_to_go(
    admin_client: Client, prod: Api
) -> None:
    # Given the Django admin, which applies at once
    response = admin_client.post(
        reverse("admin:policies_originrule_add"),
        {
            "api": str(prod.pk),
            "kind": "exact",
            "value": "https://partner.example.com",
            "enabled": "on",
            "comment": "partner",
        },
    )
    # Then a widening change on production is refused on the form, nothing written
    assert response.status_code == 200
    assert "becomes a change request" in _html(response)
    assert not OriginRule.objects.filter(value="https://partner.example.com").exists()
    assert ChangeRequest.objects.count() == 0


def test_rollback__brings_a_warning__confirmed_like_any_change(
    member_client: Client, member: User, team: Group, settings: Any
) -> None:
    # Given a production API (approvals off here) whose plain-http origin was removed
    settings.CORSADMIN_APPROVALS = ""
    actor = Actor.for_user(member)
    api = services.create_api(
        actor=actor,
        slug="shop",
        name="Shop",
        team=team,
        environment="production",
        origins=[{"value": "http://shop.example.com"}],
    )
    services.remove_origin(actor=actor, rule=api.origins.get(), comment="https only")
    url = _url("api-rollback", "shop", 1)
    # When rolled back to version 1, Then the warning is shown and nothing is applied
    first = member_client.post(url, {"comment": "undo", "expected_version": "2"})
    assert first.status_code == 422
    assert "plain http" in _html(first)
    assert not api.origins.exists()
    digest = first.context["form"].data["digest"]
    # When confirmed, Then it is applied
    second = member_client.post(
        url, {"comment": "undo", "expected_version": "2", "confirm": "on", "digest": digest}
    )
    assert second.status_code == 302
    assert api.origins.filter(value="http://shop.example.com").exists()
