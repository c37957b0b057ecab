"""Change requests through the management API: widening production access takes two people.

Real database, real HTTP stack (Django's test client through DRF), personal access tokens as
scripts would use them; `verify_audit`'s chain walk checks the log after each flow.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from policies import audit, change_requests, services
from policies.actors import Actor
from policies.models import Api, AuditEvent, ChangeRequest, OriginRule, PolicyVersion

pytestmark = pytest.mark.django_db
JSON = "application/json"


class Person:
    """A user calling the API with their personal access token."""

    def __init__(self, user: User) -> None:
        self.user = user
        out = io.StringIO()
        call_command("create_access_token", user.get_username(), stdout=out)
        self.client = Client(headers={"Authorization": f"Bearer {out.getvalue().strip()}"})

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(path, data=body or {}, content_type=JSON)

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(path, data=body, content_type=JSON)


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


@pytest.fixture
def author(member: User) -> Person:
    return Person(member)


@pytest.fixture
def approver(team: Group) -> Person:
    return Person(_user("ada", team))


def _chain_ok() -> None:
    checked, problem = audit.verify_chain()
    assert problem is None
    assert checked > 0


def _actions(api: Api) -> list[str]:
    return list(
        AuditEvent.objects.filter(api_id=api.pk)
        .order_by("sequence")
        .values_list("action", flat=True)
    )


def _add(person: Person, value: str, comment: str = "partner launch") -> Any:
    return person.post("/api/v1/apis/billing/origins/", {"value": value, "comment": comment})


def test_widening_write__production__202_open_request_nothing_applied(
    author: Person, prod: Api
) -> None:
    # Given a production API at version 1
    # When its editor adds an origin
    response = _add(author, "https://partner.example.com")
    # Then the answer is 202 with an open change request holding the plan
    assert response.status_code == 202, response.content
    request = response.json()["change_request"]
    assert request["state"] == "open"
    assert request["author"].startswith("mia")
    assert request["plan"]["widens"] == ["exact origin https://partner.example.com allowed"]
    assert request["plan"]["diff"][0]["field"] == "origins"
    assert response["Location"] == f"/api/v1/change-requests/{request['id']}/"
    # And nothing changed on the API
    prod.refresh_from_db()
    assert prod.version == 1
    assert not OriginRule.objects.filter(value="https://partner.example.com").exists()
    # And the request is listed, filterable by API and state
    listed = author.get("/api/v1/change-requests/?api=billing&state=open").json()
    assert [r["id"] for r in listed["results"]] == [request["id"]]
    assert author.get("/api/v1/change-requests/?state=applied").json()["count"] == 0
    assert author.get("/api/v1/change-requests/?state=bogus").status_code == 400
    assert _actions(prod) == ["api.created", "change_request.opened"]
    _chain_ok()


def test_create_production_api__editor__created_closed_and_policy_waits_for_approval(
    author: Person, approver: Person
) -> None:
    # When an editor creates a production API with an origin and credentials
    body = {
        "slug": "ledger",
        "name": "Ledger",
        "team": "payments",
        "environment": "production",
        "allow_credentials": True,
        "origins": [{"value": "https://ledger.example.com"}],
    }
    # Then without a why it is refused and nothing is created
    assert author.post("/api/v1/apis/", body).status_code == 400
    assert not Api.objects.filter(slug="ledger").exists()
    # And with one it answers 202: the API exists closed, its policy in an open request
    response = author.post("/api/v1/apis/", {**body, "comment": "new ledger service"})
    assert response.status_code == 202, response.content
    request = response.json()["change_request"]
    assert request["state"] == "open"
    api = Api.objects.get(slug="ledger")
    assert (api.version, api.allow_credentials, api.origins.count()) == (1, False, 0)
    # When another editor approves, Then the requested policy applies as version 2
    approved = approver.post(f"/api/v1/change-requests/{request['id']}/approve")
    assert approved.status_code == 200, approved.content
    api.refresh_from_db()
    assert (api.version, api.allow_credentials) == (2, True)
    assert list(api.origins.values_list("value", flat=True)) == ["https://ledger.example.com"]
    _chain_ok()


def test_flow__author_refused_approver_applies__new_version_and_audit(
    author: Person, approver: Person, prod: Api, team: Group
) -> None:
    # Given an open request by mia
    opened = _add(author, "https://partner.example.com").json()["change_request"]
    url = f"/api/v1/change-requests/{opened['id']}/"
    # When mia approves her own request, Then 403 and it stays open
    refused = author.post(url + "approve")
    assert refused.status_code == 403
    assert "another editor" in refused.json()["detail"]
    assert author.get(url).json()["state"] == "open"
    # When ada (another editor of the team) approves
    approved = approver.post(url + "approve", {"comment": "partner signed"})
    # Then the one approval needed is reached and the change is applied
    assert approved.status_code == 200, approved.content
    body = approved.json()
    assert body["state"] == "applied"
    assert body["applied_version"] == 2
    assert [a["user"] for a in body["approvals"]] == ["ada"]
    prod.refresh_from_db()
    assert prod.version == 2
    assert OriginRule.objects.filter(api=prod, value="https://partner.example.com").exists()
    version = PolicyVersion.objects.get(api=prod, version=2)
    assert "partner launch" in version.comment
    # And every step is in the hash chain
    assert _actions(prod) == [
        "api.created",
        "change_request.opened",
        "change_request.approved",
        "change_request.applied",
    ]
    applied = AuditEvent.objects.filter(action="change_request.applied").get()
    assert applied.actor_name.startswith("ada")
    assert applied.diff[0]["added"][0]["value"] == "https://partner.example.com"
    # And approving again is refused: it is closed
    assert approver.post(url + "approve").status_code == 400
    _chain_ok()


def test_self_approval__superuser_author__403(prod: Api, team: Group) -> None:
    # Given a superuser who opens a request
    boss = Person(_user("root", superuser=True))
    opened = _add(boss, "https://partner.example.com").json()["change_request"]
    # When the same superuser approves it, Then it is refused too
    response = boss.post(f"/api/v1/change-requests/{opened['id']}/approve")
    assert response.status_code == 403
    assert ChangeRequest.objects.get(pk=opened["id"]).state == "open"


def test_narrowing_write__production__applies_at_once_but_needs_a_why(
    author: Person, prod: Api
) -> None:
    rule = prod.origins.get()
    # When the editor removes the origin without saying why, Then 400 on comment
    response = author.client.delete(f"/api/v1/apis/billing/origins/{rule.pk}/")
    assert response.status_code == 400
    assert "comment" in response.json()
    # When with a why, Then it is removed at once: narrowing never waits
    response = author.client.delete(
        f"/api/v1/apis/billing/origins/{rule.pk}/?comment=partner+ended"
    )
    assert response.status_code == 204
    assert not prod.origins.exists()
    # And so is a PATCH that only narrows (fewer methods, shorter max-age)
    response = author.patch("/api/v1/apis/billing/", {"max_age": 60, "comment": "tighter"})
    assert response.status_code == 200
    assert ChangeRequest.objects.count() == 0


def test_stale_base__apply_replans_and_shows_new_diff_before_applying(
    author: Person, approver: Person, prod: Api, member: User
) -> None:
    # Given a request to allow credentials, scheduled for later, approved by ada
    opened = author.patch(
        "/api/v1/apis/billing/", {"allow_credentials": True, "comment": "cookies"}
    ).json()["change_request"]
    url = f"/api/v1/change-requests/{opened['id']}/"
    request = ChangeRequest.objects.get(pk=opened["id"])
    later = timezone.now() + timedelta(hours=1)
    change_requests.schedule(actor=Actor.for_user(member), request=request, at=later)
    assert approver.post(url + "approve").json()["state"] == "approved"
    # And meanwhile someone else changes the API (a narrowing change, applied at once)
    services.update_api(actor=Actor.for_user(member), api=prod, max_age=60, comment="tighter")
    prod.refresh_from_db()
    assert prod.version == 2
    ChangeRequest.objects.filter(pk=request.pk).update(scheduled_at=None)
    # When ada applies it
    response = approver.post(url + "apply")
    # Then it is not applied: 409, re-planned on version 2, the new diff shown
    assert response.status_code == 409, response.content
    body = response.json()["change_request"]
    assert (body["base_version"], body["replanned_from"]) == (2, 1)
    assert body["plan"]["diff"] == [{"field": "allow_credentials", "before": False, "after": True}]
    # The diff is what was approved: approvals stay, and applying again applies it
    assert body["state"] == "approved"
    prod.refresh_from_db()
    assert (prod.version, prod.allow_credentials) == (2, False)
    applied = approver.post(url + "apply")
    assert applied.status_code == 200
    prod.refresh_from_db()
    # With both changes: the other person's max-age is not reverted
    assert (prod.version, prod.allow_credentials, prod.max_age) == (3, True, 60)
    assert "change_request.replanned" in _actions(prod)
    _chain_ok()


def test_stale_base__same_rule_changed__approvals_reset(
    author: Person, approver: Person, prod: Api, member: User
) -> None:
    # Given a write the linter refuses: no request is opened
    opened = author.patch(
        "/api/v1/apis/billing/", {"methods": [*prod.methods, "TRACE"], "comment": "x"}
    )
    assert opened.status_code == 400
    assert ChangeRequest.objects.count() == 0
    # And an open request turning on private network access and exposing x-total
    opened = author.patch(
        "/api/v1/apis/billing/",
        {"allow_private_network": True, "expose_headers": ["x-total"], "comment": "kiosk"},
    ).json()["change_request"]
    url = f"/api/v1/change-requests/{opened['id']}/"
    request = ChangeRequest.objects.get(pk=opened["id"])
    request.scheduled_at = timezone.now() + timedelta(hours=1)
    request.save()
    assert approver.post(url + "approve").json()["state"] == "approved"
    # And meanwhile one of the same switches is turned on by someone else (here the system),
    # so what the request changes is no longer what was approved
    services.update_api(actor=Actor.system("test"), api=prod, allow_private_network=True)
    ChangeRequest.objects.filter(pk=request.pk).update(scheduled_at=None)
    # When applied, Then re-planned with a different diff: back to open, approvals reset
    response = approver.post(url + "apply")
    assert response.status_code == 409
    body = response.json()["change_request"]
    assert body["state"] == "open"
    assert body["approvals"] == []
    assert body["plan"]["diff"] == [
        {"field": "expose_headers", "added": ["x-total"], "removed": []}
    ]


def test_break_glass__superuser_with_reason__applied_and_marked(author: Person, prod: Api) -> None:
    opened = _add(author, "https://incident.example.com").json()["change_request"]
    url = f"/api/v1/change-requests/{opened['id']}/apply"
    boss = Person(_user("root", superuser=True))
    # An editor cannot apply an unapproved request, nor break the glass
    assert author.post(url).status_code == 400
    assert author.post(url, {"break_glass": "urgent"}).status_code == 403
    # A superuser must say why
    assert boss.post(url, {"break_glass": " "}).status_code == 400
    # With a reason it applies at once, audited as break-glass
    response = boss.post(url, {"break_glass": "checkout down for partner"})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "applied"
    event = AuditEvent.objects.filter(action="change.break_glass").get()
    assert "checkout down for partner" in event.comment
    assert event.actor_name.startswith("root")
    assert OriginRule.objects.filter(value="https://incident.example.com").exists()
    _chain_ok()


def test_reject_and_withdraw__reasons_and_who(author: Person, approver: Person, prod: Api) -> None:
    first = _add(author, "https://a.example.com").json()["change_request"]
    # Folded: a second widening write by the same author edits the same request
    second = _add(author, "https://b.example.com").json()["change_request"]
    assert second["id"] == first["id"]
    assert sorted(second["plan"]["widens"]) == [
        "exact origin https://a.example.com allowed",
        "exact origin https://b.example.com allowed",
    ]
    url = f"/api/v1/change-requests/{first['id']}/"
    # Reject needs a reason; the author cannot reject (withdraws instead); ada can
    assert approver.post(url + "reject").status_code == 400
    assert author.post(url + "reject", {"reason": "no"}).status_code == 403
    rejected = approver.post(url + "reject", {"reason": "use the wildcard rule"})
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["discussion"][-1]["text"] == "use the wildcard rule"
    # A new request can be withdrawn by its author only
    third = _add(author, "https://c.example.com").json()["change_request"]
    url = f"/api/v1/change-requests/{third['id']}/"
    assert approver.post(url + "withdraw").status_code == 403
    assert author.post(url + "withdraw").json()["state"] == "withdrawn"
    assert not OriginRule.objects.filter(value__in=["https://a.example.com"]).exists()
    assert {"change_request.rejected", "change_request.withdrawn", "change_request.edited"} <= set(
        _actions(prod)
    )


def test_visibility__other_team_404_auditor_reads_viewer_cannot_approve(
    author: Person, prod: Api, team: Group, other_team: Group
) -> None:
    opened = _add(author, "https://partner.example.com").json()["change_request"]
    url = f"/api/v1/change-requests/{opened['id']}/"
    outsider = Person(_user("oscar", other_team))
    auditor = Person(_user("audrey", Group.objects.get(name="auditor")))
    # Another team: a 404, and nothing listed
    assert outsider.get(url).status_code == 404
    assert outsider.post(url + "approve").status_code == 404
    assert outsider.get("/api/v1/change-requests/").json()["count"] == 0
    # The auditor reads every request, API and the audit log, and changes nothing
    assert auditor.get(url).status_code == 200
    assert auditor.get("/api/v1/apis/").json()["count"] == 1
    assert auditor.get("/api/v1/audit/?api=billing").json()["results"]
    assert auditor.post(url + "approve").status_code == 403
    assert _add(auditor, "https://x.example.com").status_code == 403


def test_rollback_to_wider_version__opens_request(author: Person, prod: Api, member: User) -> None:
    # Given a production API whose origin was removed (version 2)
    rule = prod.origins.get()
    services.remove_origin(actor=Actor.for_user(member), rule=rule, comment="partner ended")
    # When someone rolls back to version 1 (which allowed it), Then it waits for approval
    response = author.post("/api/v1/apis/billing/versions/1/rollback", {"comment": "oops"})
    assert response.status_code == 202, response.content
    assert response.json()["change_request"]["title"] == "roll billing back to version 1"
    assert not Api.objects.get(pk=prod.pk).origins.exists()


def test_promote__staging_onto_production_twin__request_with_diff(
    author: Person, prod: Api, member: User, team: Group
) -> None:
    services.create_api(
        actor=Actor.for_user(member),
        slug="billing-staging",
        name="Billing (staging)",
        team=team,
        environment="staging",
        origins=[
            {"value": "https://app.example.com"},
            {"value": "https://beta.example.com"},
        ],
    )
    response = author.post(
        "/api/v1/apis/billing-staging/promote", {"to": "billing", "comment": "release 42"}
    )
    assert response.status_code == 202, response.content
    request = response.json()["change_request"]
    assert request["title"] == "promote billing-staging onto billing"
    assert request["plan"]["widens"] == ["exact origin https://beta.example.com allowed"]
    # Still named billing, still production
    assert request["proposed"]["environment"] == "production"
    assert request["proposed"]["name"] == "Billing"


def test_scheduled_request__approved__applied_by_the_beat_task_when_due(
    author: Person, approver: Person, prod: Api, member: User, settings: Any
) -> None:
    from policies import tasks

    # Given a request scheduled for an hour from now, approved
    opened = _add(author, "https://later.example.com").json()["change_request"]
    request = ChangeRequest.objects.get(pk=opened["id"])
    due = timezone.now() + timedelta(hours=1)
    change_requests.schedule(actor=Actor.for_user(member), request=request, at=due)
    body = approver.post(f"/api/v1/change-requests/{request.pk}/approve").json()
    # Then approval does not apply it before its time, nor does an early apply
    assert body["state"] == "approved"
    assert approver.post(f"/api/v1/change-requests/{request.pk}/apply").status_code == 400
    assert change_requests.apply_scheduled() == 0
    # When the time has come, the beat task (run eagerly here) applies it
    assert "apply-scheduled-changes" in settings.CELERY_BEAT_SCHEDULE
    assert change_requests.apply_scheduled(now=due + timedelta(minutes=1)) == 1
    request.refresh_from_db()
    assert request.state == "applied"
    assert OriginRule.objects.filter(value="https://later.example.com").exists()
    applied = AuditEvent.objects.filter(action="change_request.applied").get()
    assert applied.actor_name == "scheduler"
    # And nothing is left to apply
    assert tasks.apply_scheduled_changes.apply().get() == 0
    _chain_ok()


def test_delete_production_api__needs_a_why(author: Person, prod: Api) -> None:
    # Deleting removes access (never waits), but says why like any production change
    assert author.client.delete("/api/v1/apis/billing/").status_code == 400
    assert author.client.delete("/api/v1/apis/billing/?comment=retired").status_code == 204
    assert not Api.objects.filter(slug="billing").exists()


def test_move_out_of_production__widening__waits_and_needs_a_why(author: Person, prod: Api) -> None:
    refused = author.patch("/api/v1/apis/billing/", {"environment": "staging"})
    assert refused.status_code == 400
    assert "comment" in refused.json()
    response = author.patch("/api/v1/apis/billing/", {"environment": "staging", "comment": "x"})
    assert response.status_code == 202
    assert response.json()["change_request"]["plan"]["widens"] == [
        "environment changed from production to staging"
    ]
    assert Api.objects.get(pk=prod.pk).environment == "production"
