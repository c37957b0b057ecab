"""The management API over HTTP, as a person: with the session (CSRF enforced) and with a
personal access token. Every test that acts as someone runs both ways (`call` fixture).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from policies import services
from policies.actors import Actor
from policies.models import AccessToken, Api, AuditEvent, OriginRule, ServiceToken

pytestmark = pytest.mark.django_db

JSON = "application/json"


@dataclass
class Caller:
    """One person calling the API one way; `kind` is "session" or "token"."""

    user: User
    kind: str
    client: Client
    headers: dict[str, str] = field(default_factory=dict)
    token: AccessToken | None = None

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(path, headers={**self.headers, **headers})

    def send(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        sender = getattr(self.client, method.lower())
        kwargs: dict[str, Any] = {"headers": {**self.headers, **headers}}
        if body is not None:
            kwargs.update(data=body, content_type=JSON)
        return sender(path, **kwargs)

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.send("POST", path, body if body is not None else {}, **headers)

    def patch(self, path: str, body: Any, **headers: str) -> Any:
        return self.send("PATCH", path, body, **headers)

    def put(self, path: str, body: Any, **headers: str) -> Any:
        return self.send("PUT", path, body, **headers)

    def delete(self, path: str, **headers: str) -> Any:
        return self.send("DELETE", path, **headers)

    @property
    def actor(self) -> tuple[str, str]:
        """(actor_type, actor_name) the audit log must record for this caller's writes."""
        if self.token is None:
            return "user", self.user.get_username()
        return "token", f"{self.user.get_username()} (token {self.token.prefix})"


def _session_caller(user: User) -> Caller:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    # A GET of a form page sets the CSRF cookie; a browser script would read it the same way.
    client.get("/accounts/login/")
    csrf = client.cookies["csrftoken"].value
    return Caller(user=user, kind="session", client=client, headers={"X-CSRFToken": csrf})


def _token_caller(user: User) -> Caller:
    out = io.StringIO()
    call_command("create_access_token", user.get_username(), "--name", "tests", stdout=out)
    secret = out.getvalue().strip()
    token = AccessToken.objects.get(user=user, prefix=secret[:10])
    return Caller(
        user=user,
        kind="token",
        client=Client(),
        headers={"Authorization": f"Bearer {secret}"},
        token=token,
    )


@pytest.fixture(params=["session", "token"])
def as_user(request: pytest.FixtureRequest, db: None) -> Callable[[User], Caller]:
    """Build a caller for any user, by session or by personal access token."""
    return _session_caller if request.param == "session" else _token_caller


@pytest.fixture
def call(as_user: Callable[[User], Caller], member: User, api: Api) -> Caller:
    return as_user(member)


@pytest.fixture
def reader(team: Group) -> User:
    user = User.objects.create_user("rita", password="pw-rita-12345")
    user.groups.add(team, Group.objects.get_or_create(name="read-only")[0])
    return user


@pytest.fixture
def admin(db: None) -> User:
    return User.objects.create_superuser("ada", password="pw-ada-12345")


@pytest.fixture
def foreign_api(other_team: Group) -> Api:
    owner = User.objects.create_user("sam", password="pw-sam-12345")
    owner.groups.add(other_team)
    return services.create_api(
        actor=Actor.for_user(owner),
        slug="search",
        name="Search",
        team=other_team,
        origins=[{"value": "https://search.example.com"}],
    )


class Events:
    """Counts audit events written after a point, to assert 'exactly one, by whom'."""

    def __init__(self) -> None:
        last = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True)
        self.start = last.first() or 0

    def new(self) -> list[AuditEvent]:
        return list(AuditEvent.objects.filter(sequence__gt=self.start).order_by("sequence"))

    def one(self, caller: Caller, action: str) -> AuditEvent:
        events = self.new()
        assert [e.action for e in events] == [action]
        event = events[0]
        assert (event.actor_type, event.actor_name) == caller.actor
        return event


# --- APIs -----------------------------------------------------------------------------------


def test_list_apis__member__only_visible_apis_paginated(
    call: Caller, foreign_api: Api, actor: Actor, team: Group
) -> None:
    # Given an API of the member's team (fixture), a second one, and one of another team
    services.create_api(actor=actor, slug="ledger", name="Ledger", team=team, mode="report-only")
    # When the member lists APIs
    response = call.get("/api/v1/apis/")
    # Then only the team's APIs come back, in a page
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [a["slug"] for a in body["results"]] == ["billing", "ledger"]
    assert body["results"][0]["origins"][0]["value"] == "https://app.example.com"
    # And the filters narrow the list
    assert [a["slug"] for a in call.get("/api/v1/apis/?mode=report-only").json()["results"]] == [
        "ledger"
    ]
    assert call.get("/api/v1/apis/?environment=production").json()["count"] == 0
    assert call.get("/api/v1/apis/?team=search").json()["count"] == 0
    assert [a["slug"] for a in call.get("/api/v1/apis/?q=app.example").json()["results"]] == [
        "billing"
    ]
    assert call.get("/api/v1/apis/?page_size=1").json()["next"] is not None


def test_list_apis__bad_filter_value__400_naming_parameter(call: Caller) -> None:
    response = call.get("/api/v1/apis/?environment=moon")
    assert response.status_code == 400
    assert "moon" in response.json()["environment"][0]
    assert call.get("/api/v1/apis/?page=99").status_code == 400


def test_create_api__team_member__201_version_one_and_one_audit_event(call: Caller) -> None:
    # Given the audit log as it is
    log = Events()
    # When the member creates an API in their team, with an origin
    response = call.post(
        "/api/v1/apis/",
        {
            "slug": "ledger",
            "name": "Ledger",
            "team": "payments",
            "environment": "staging",
            "methods": ["GET", "POST"],
            "origins": [{"value": "HTTPS://Ledger.Example.com"}],
            "comment": "new service",
        },
    )
    # Then it exists at version 1, canonical origin, with its ETag and location
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["slug"], body["version"], body["team"]) == ("ledger", 1, "payments")
    assert body["origins"][0]["value"] == "https://ledger.example.com"
    assert body["methods"] == ["GET", "POST"]
    assert response["ETag"] == '"1"'
    assert response["Location"] == "/api/v1/apis/ledger/"
    assert body["updated_by"] == call.actor[1]
    # And exactly one event records it, by this caller, with the comment
    assert log.one(call, "api.created").comment == "new service"


def test_create_api__team_not_theirs__400_team_nothing_written(
    call: Caller, other_team: Group
) -> None:
    log = Events()
    response = call.post("/api/v1/apis/", {"slug": "x", "name": "X", "team": "search"})
    assert response.status_code == 400
    assert "search" in response.json()["team"][0]
    assert not Api.objects.filter(slug="x").exists()
    assert log.new() == []


def test_create_api__bad_slug_and_origin_with_path__400_field_by_field(call: Caller) -> None:
    response = call.post(
        "/api/v1/apis/",
        {
            "slug": "Not A Slug",
            "name": "X",
            "team": "payments",
            "origins": [{"value": "https://example.com/app"}],
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert "slug" in body
    assert "path" in body["origins[0]"][0]


def test_retrieve_api__member__representation_etag_and_304(call: Caller) -> None:
    # When the member reads the API
    response = call.get("/api/v1/apis/billing/")
    # Then it has its version, origins, lint findings and an ETag to send back
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 1
    assert body["environment"] == "staging"
    assert [o["value"] for o in body["origins"]] == ["https://app.example.com"]
    assert isinstance(body["findings"], list)
    assert body["updated_by"] == "mia"
    assert response["ETag"] == '"1"'
    # And a conditional read of the same version is 304 without a body
    again = call.get("/api/v1/apis/billing/", If_None_Match='"1"')
    assert again.status_code == 304
    assert again.content == b""


def test_retrieve_api__allow_all__lint_warning_with_rule_id(call: Caller, api: Api) -> None:
    services.update_api(actor=Actor.for_user(call.user), api=api, allow_all=True)
    findings = call.get("/api/v1/apis/billing/").json()["findings"]
    assert {"allow-all-origins", "origins-ignored-by-allow-all"} <= {f["rule"] for f in findings}
    assert all(f["severity"] == "warning" for f in findings)


def test_patch_api__current_if_match__200_new_version_and_one_event(call: Caller) -> None:
    log = Events()
    response = call.patch(
        "/api/v1/apis/billing/",
        {"max_age": 3600, "methods": ["GET"], "comment": "tighter"},
        If_Match='"1"',
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["version"], body["max_age"], body["methods"]) == (2, 3600, ["GET"])
    assert response["ETag"] == '"2"'
    event = log.one(call, "api.updated")
    assert event.comment == "tighter"
    assert {d["field"] for d in event.diff} == {"max_age", "methods"}


def test_patch_api__without_if_match__applied_to_current_version(call: Caller) -> None:
    # If-Match is optional: without it the change applies to whatever version is current
    response = call.patch("/api/v1/apis/billing/", {"name": "Billing v2"})
    assert response.status_code == 200
    assert response.json()["version"] == 2


def test_patch_api__unquoted_if_match__accepted(call: Caller) -> None:
    assert call.patch("/api/v1/apis/billing/", {"name": "B"}, If_Match="1").status_code == 200


def test_patch_api__stale_if_match__412_with_current_version_nothing_changed(
    call: Caller, api: Api, actor: Actor
) -> None:
    # Given someone else changed the API after our caller loaded version 1
    services.add_origin(actor=actor, api=api, value="https://shop.example.com")
    log = Events()
    # When the caller saves with the version they loaded
    response = call.patch("/api/v1/apis/billing/", {"max_age": 60}, If_Match='"1"')
    # Then 412 with the current version; nothing changed, nothing audited
    assert response.status_code == 412
    body = response.json()
    assert body["current_version"] == 2
    assert "version 1" in body["detail"]
    assert response["ETag"] == '"2"'
    api.refresh_from_db()
    assert (api.version, api.max_age) == (2, 600)
    assert log.new() == []


def test_patch_api__malformed_if_match__400_names_header(call: Caller) -> None:
    response = call.patch("/api/v1/apis/billing/", {"name": "B"}, If_Match="yesterday")
    assert response.status_code == 400
    assert "If-Match" in response.json()


def test_patch_api__unknown_and_read_only_fields__400_each_named(call: Caller, api: Api) -> None:
    response = call.patch(
        "/api/v1/apis/billing/", {"colour": "blue", "slug": "new", "version": 9, "name": "B"}
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"colour", "slug", "version"}
    assert "cannot be changed" in body["slug"][0]
    api.refresh_from_db()
    assert api.name == "Billing"


def test_patch_api__allow_all_with_credentials__400_lint_errors_with_rule_ids(call: Caller) -> None:
    log = Events()
    response = call.patch(
        "/api/v1/apis/billing/", {"allow_all": True, "allow_credentials": True}, If_Match='"1"'
    )
    assert response.status_code == 400
    body = response.json()
    assert "allow_all" in body
    errors = [f for f in body["findings"] if f["severity"] == "error"]
    assert [f["rule"] for f in errors] == ["credentials-with-wildcard-origin"]
    assert log.new() == []


def test_patch_api__unknown_method__400_methods(call: Caller) -> None:
    response = call.patch("/api/v1/apis/billing/", {"methods": ["GET", "FE TCH"]})
    assert response.status_code == 400
    assert "FE TCH" in response.json()["methods"][0]


def test_patch_api__paths_regex_not_compiling__400_paths(call: Caller) -> None:
    response = call.patch("/api/v1/apis/billing/", {"paths": "^/v1/(unclosed"})
    assert response.status_code == 400
    assert "regular expression" in response.json()["paths"][0]


def test_patch_api__wrong_types__400_field_by_field_never_500(call: Caller) -> None:
    response = call.patch(
        "/api/v1/apis/billing/", {"max_age": "soon", "allow_null": "maybe", "methods": "GET"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"max_age", "allow_null", "methods"}
    assert call.send("PATCH", "/api/v1/apis/billing/", [1, 2]).status_code == 400
    malformed = call.client.patch(
        "/api/v1/apis/billing/", data="{not json", content_type=JSON, headers=call.headers
    )
    assert malformed.status_code == 400


def test_put_api__every_field__replaced_and_missing_fields_400(call: Caller, settings: Any) -> None:
    # (production here for its lint rules, without the approval that widening there needs)
    settings.CORSADMIN_APPROVALS = ""
    # Given a full representation of the settings
    full = {
        "name": "Billing",
        "description": "money",
        "team": "payments",
        "environment": "production",
        "mode": "report-only",
        "paths": "^/v1/",
        "methods": ["GET"],
        "request_headers": ["content-type"],
        "expose_headers": [],
        "allow_credentials": True,
        "max_age": 120,
        "allow_private_network": False,
        "allow_null": False,
        "allow_all": False,
    }
    # When it is PUT, the API takes exactly those settings
    response = call.put("/api/v1/apis/billing/", full, If_Match='"1"')
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in full} == full
    # And a PUT that leaves fields out is refused, naming each
    partial = call.put("/api/v1/apis/billing/", {"name": "B"}, If_Match='"2"')
    assert partial.status_code == 400
    assert {"team", "environment", "max_age"} <= set(partial.json())


def test_delete_api__member__204_gone_and_one_event(call: Caller) -> None:
    log = Events()
    response = call.delete("/api/v1/apis/billing/?comment=retired", If_Match='"1"')
    assert response.status_code == 204
    assert not Api.objects.filter(slug="billing").exists()
    assert log.one(call, "api.deleted").comment == "retired"
    assert call.get("/api/v1/apis/billing/").status_code == 404


def test_delete_api__stale_if_match__412_kept(call: Caller) -> None:
    response = call.delete("/api/v1/apis/billing/", If_Match='"7"')
    assert response.status_code == 412
    assert response.json()["current_version"] == 1
    assert Api.objects.filter(slug="billing").exists()


# --- who may do what ------------------------------------------------------------------------


def test_api__outsider__404_not_403_for_every_endpoint(
    as_user: Callable[[User], Caller], outsider: User, api: Api
) -> None:
    # Given an API of a team the caller is not in
    caller = as_user(outsider)
    rule = api.origins.get()
    token, _ = services.issue_service_token(
        actor=Actor.for_user(api.created_by), name="web", apis=[api]
    )
    log = Events()
    base = "/api/v1/apis/billing"
    # When they read or write anything of it, Then 404 as if it did not exist
    answers = [
        caller.get(f"{base}/"),
        caller.patch(f"{base}/", {"name": "x"}),
        caller.put(f"{base}/", {"name": "x"}),
        caller.delete(f"{base}/"),
        caller.get(f"{base}/origins/"),
        caller.post(f"{base}/origins/", {"value": "https://evil.example"}),
        caller.get(f"{base}/origins/{rule.pk}/"),
        caller.patch(f"{base}/origins/{rule.pk}/", {"note": "x"}),
        caller.delete(f"{base}/origins/{rule.pk}/"),
        caller.get(f"{base}/tokens/"),
        caller.post(f"{base}/tokens/", {"name": "steal"}),
        caller.get(f"/api/v1/tokens/{token.pk}/"),
        caller.delete(f"/api/v1/tokens/{token.pk}/"),
        caller.get(f"{base}/versions/"),
        caller.get(f"{base}/versions/1/"),
        caller.post(f"{base}/versions/1/rollback"),
    ]
    assert [r.status_code for r in answers] == [404] * len(answers)
    missing = caller.get("/api/v1/apis/nope/")
    assert answers[0].json()["detail"] == "no API 'billing'"
    assert missing.json()["detail"] == "no API 'nope'"
    assert caller.get("/api/v1/apis/").json()["count"] == 0
    assert log.new() == []


def test_api__read_only_member__reads_but_403_on_every_write(
    as_user: Callable[[User], Caller], reader: User, api: Api
) -> None:
    caller = as_user(reader)
    rule = api.origins.get()
    log = Events()
    base = "/api/v1/apis/billing"
    assert caller.get(f"{base}/").status_code == 200
    assert caller.get(f"{base}/origins/").status_code == 200
    assert caller.get(f"{base}/versions/").status_code == 200
    writes = [
        caller.patch(f"{base}/", {"name": "x"}),
        caller.put(f"{base}/", {"max_age": "bad"}),
        caller.delete(f"{base}/"),
        caller.post(f"{base}/origins/", {"value": "https://x.example.com"}),
        caller.patch(f"{base}/origins/{rule.pk}/", {"note": "x"}),
        caller.delete(f"{base}/origins/{rule.pk}/"),
        caller.post(f"{base}/tokens/", {"name": "web"}),
        caller.post(f"{base}/versions/1/rollback"),
        caller.post("/api/v1/apis/", {"slug": "x", "name": "X", "team": "payments"}),
    ]
    assert [r.status_code for r in writes] == [403] * len(writes)
    assert log.new() == []


def test_api__superuser__sees_and_changes_every_team(
    as_user: Callable[[User], Caller], admin: User, api: Api, foreign_api: Api
) -> None:
    caller = as_user(admin)
    assert caller.get("/api/v1/apis/").json()["count"] == 2
    assert caller.patch("/api/v1/apis/search/", {"max_age": 10}).status_code == 200


def test_patch_api__move_to_team_not_theirs__400(call: Caller, other_team: Group) -> None:
    response = call.patch("/api/v1/apis/billing/", {"team": "search"})
    assert response.status_code == 400
    assert "team" in response.json()


# --- origins --------------------------------------------------------------------------------


def test_add_origin__valid__201_canonical_location_etag_and_one_event(call: Caller) -> None:
    log = Events()
    response = call.post(
        "/api/v1/apis/billing/origins/",
        {"value": "HTTPS://Shop.Example.COM:443", "note": "shop", "comment": "launch"},
        If_Match='"1"',
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["value"], body["note"]) == (
        "exact",
        "https://shop.example.com",
        "shop",
    )
    # A personal token acts as its owner: the rule is "created by" them (the audit names it).
    assert body["created_by"] == call.user.username
    assert response["ETag"] == '"2"'
    assert response["Location"] == f"/api/v1/apis/billing/origins/{body['id']}/"
    event = log.one(call, "origin.added")
    assert (event.api_version, event.comment) == (2, "launch")


def test_add_origin__with_path__400_value_message(call: Caller) -> None:
    response = call.post("/api/v1/apis/billing/origins/", {"value": "https://example.com/app"})
    assert response.status_code == 400
    assert response.json() == {"value": ["origins have no path: remove '/app'"]}


def test_add_origin__regex_not_compiling__400_value(call: Caller) -> None:
    response = call.post(
        "/api/v1/apis/billing/origins/", {"kind": "regex", "value": "^https://(a|b$"}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["value"]


def test_add_origin__regex_with_unescaped_dot__400_lint_rule(call: Caller) -> None:
    response = call.post(
        "/api/v1/apis/billing/origins/",
        {"kind": "regex", "value": r"^https://app.example\.com$"},
    )
    assert response.status_code == 400
    assert "regex-unescaped-dot" in [f["rule"] for f in response.json()["findings"]]


def test_add_origin__stale_if_match__412(call: Caller, api: Api, actor: Actor) -> None:
    services.update_api(actor=actor, api=api, max_age=60)
    response = call.post(
        "/api/v1/apis/billing/origins/", {"value": "https://x.example.com"}, If_Match='"1"'
    )
    assert response.status_code == 412
    assert response.json()["current_version"] == 2


def test_add_origin__duplicate_and_past_expiry__400(call: Caller) -> None:
    again = call.post("/api/v1/apis/billing/origins/", {"value": "https://app.example.com"})
    assert again.status_code == 400
    assert "already listed" in again.json()["value"][0]
    past = call.post(
        "/api/v1/apis/billing/origins/",
        {"value": "https://tmp.example.com", "expires_at": "2001-01-01T00:00:00Z"},
    )
    assert past.status_code == 400
    assert "expires_at" in past.json()


def test_update_origin__patch_and_put__200_version_bumped_one_event_each(
    call: Caller, api: Api
) -> None:
    rule = api.origins.get()
    url = f"/api/v1/apis/billing/origins/{rule.pk}/"
    assert call.get(url).json()["value"] == "https://app.example.com"
    log = Events()
    patched = call.patch(url, {"note": "main app", "enabled": False}, If_Match='"1"')
    assert patched.status_code == 200, patched.content
    assert (patched.json()["note"], patched.json()["enabled"]) == ("main app", False)
    assert patched["ETag"] == '"2"'
    log.one(call, "origin.changed")
    log = Events()
    put = call.put(
        url,
        {
            "kind": "wildcard",
            "value": "https://*.example.com",
            "note": "",
            "enabled": True,
            "expires_at": None,
        },
        If_Match='"2"',
    )
    assert put.status_code == 200, put.content
    assert (put.json()["kind"], put.json()["value"]) == ("wildcard", "https://*.example.com")
    log.one(call, "origin.changed")


def test_delete_origin__member__204_and_one_event(call: Caller, api: Api) -> None:
    rule = api.origins.get()
    log = Events()
    response = call.delete(f"/api/v1/apis/billing/origins/{rule.pk}/", If_Match='"1"')
    assert response.status_code == 204
    assert response["ETag"] == '"2"'
    assert not OriginRule.objects.filter(pk=rule.pk).exists()
    log.one(call, "origin.removed")


def test_origin__id_of_another_api__404(call: Caller, foreign_api: Api) -> None:
    rule = foreign_api.origins.get()
    assert call.get(f"/api/v1/apis/billing/origins/{rule.pk}/").status_code == 404
    assert call.get(f"/api/v1/apis/billing/origins/{2**70}/").status_code == 404


# --- service tokens -------------------------------------------------------------------------


def test_issue_token__member__secret_shown_once_works_then_revoked_at_once(
    call: Caller, use_redis: redis.Redis
) -> None:
    log = Events()
    # When the member issues a service token for the API
    response = call.post("/api/v1/apis/billing/tokens/", {"name": "billing-web"})
    # Then the secret is in this response (not cacheable), and one event records it
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("cors_")
    assert body["prefix"] == secret[:9]
    assert (body["apis"], body["revoked"], body["name"]) == (["billing"], False, "billing-web")
    assert response["Cache-Control"] == "no-store"
    log.one(call, "token.issued")
    # And the secret reads the policy, while no listing or read shows it again
    policy = Client().get("/api/v1/policies/billing", headers={"Authorization": f"Bearer {secret}"})
    assert policy.status_code == 200
    listed = call.get("/api/v1/apis/billing/tokens/")
    assert [t["name"] for t in listed.json()] == ["billing-web"]
    assert secret not in listed.content.decode()
    detail = call.get(response["Location"])
    assert "secret" not in detail.json()
    assert detail.json()["last_used_at"] is not None
    # When it is revoked, Then the next poll is refused, and one event records it
    log = Events()
    assert call.delete(f"{response['Location']}?comment=leaked").status_code == 204
    event = log.one(call, "token.revoked")
    assert event.comment == "leaked"
    policy = Client().get("/api/v1/policies/billing", headers={"Authorization": f"Bearer {secret}"})
    assert policy.status_code == 401
    assert call.get(response["Location"]).json()["revoked"] is True
    # And revoking again is a no-op (204, no second event)
    log = Events()
    assert call.delete(response["Location"]).status_code == 204
    assert log.new() == []


def test_issue_token__several_apis_and_unknown_one__scoped_or_400(
    call: Caller, actor: Actor, team: Group, foreign_api: Api
) -> None:
    services.create_api(actor=actor, slug="ledger", name="Ledger", team=team)
    both = call.post("/api/v1/apis/billing/tokens/", {"name": "web", "apis": ["ledger"]})
    assert both.status_code == 201
    assert both.json()["apis"] == ["billing", "ledger"]
    # An API the caller cannot see is answered like one that does not exist
    hidden = call.post("/api/v1/apis/billing/tokens/", {"name": "web", "apis": ["search"]})
    missing = call.post("/api/v1/apis/billing/tokens/", {"name": "web", "apis": ["nope"]})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["apis"] == ["no API 'search'"]
    nameless = call.post("/api/v1/apis/billing/tokens/", {"name": ""})
    assert nameless.status_code == 400
    assert "name" in nameless.json()


def test_revoke_token__read_only_member__403_and_still_valid(
    as_user: Callable[[User], Caller], reader: User, api: Api, actor: Actor
) -> None:
    token, _ = services.issue_service_token(actor=actor, name="web", apis=[api])
    caller = as_user(reader)
    assert caller.get(f"/api/v1/tokens/{token.pk}/").status_code == 200
    assert caller.delete(f"/api/v1/tokens/{token.pk}/").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_list__token_also_for_hidden_api__hidden_slug_not_shown(
    call: Caller, api: Api, foreign_api: Api
) -> None:
    admin = User.objects.create_superuser("root", password="pw-root-12345")
    services.issue_service_token(actor=Actor.for_user(admin), name="both", apis=[api, foreign_api])
    listed = call.get("/api/v1/apis/billing/tokens/").json()
    assert [(t["name"], t["apis"]) for t in listed] == [("both", ["billing"])]


# --- versions and rollback ------------------------------------------------------------------


def test_versions__after_changes__newest_first_with_state(
    call: Caller, api: Api, actor: Actor
) -> None:
    services.update_api(actor=actor, api=api, max_age=60, comment="shorter")
    services.add_origin(actor=actor, api=api, value="https://shop.example.com")
    response = call.get("/api/v1/apis/billing/versions/")
    assert response.status_code == 200
    body = response.json()
    assert [v["version"] for v in body["results"]] == [3, 2, 1]
    assert (body["results"][1]["comment"], body["results"][1]["actor"]) == ("shorter", "mia")
    detail = call.get("/api/v1/apis/billing/versions/2/").json()
    assert detail["state"]["max_age"] == 60
    assert [o["value"] for o in detail["state"]["origins"]] == ["https://app.example.com"]
    assert call.get("/api/v1/apis/billing/versions/9/").status_code == 404


def test_rollback__to_version_one__new_version_with_old_state_and_one_event(
    call: Caller, api: Api, actor: Actor
) -> None:
    services.update_api(actor=actor, api=api, max_age=60)
    services.add_origin(actor=actor, api=api, value="https://shop.example.com")
    log = Events()
    response = call.post(
        "/api/v1/apis/billing/versions/1/rollback", {"comment": "bad release"}, If_Match='"3"'
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["version"], body["max_age"]) == (4, 600)
    assert [o["value"] for o in body["origins"]] == ["https://app.example.com"]
    assert response["ETag"] == '"4"'
    assert log.one(call, "api.rolled_back").comment == "bad release"


def test_rollback__stale_or_unknown_version__412_or_404(call: Caller) -> None:
    stale = call.post("/api/v1/apis/billing/versions/1/rollback", {}, If_Match='"5"')
    assert (stale.status_code, stale.json()["current_version"]) == (412, 1)
    assert call.post("/api/v1/apis/billing/versions/8/rollback").status_code == 404


# --- audit ----------------------------------------------------------------------------------


def test_audit__filters__api_actor_action_and_dates(
    call: Caller, api: Api, actor: Actor, foreign_api: Api
) -> None:
    # Given changes by the caller (through the API) and by the fixture's actor
    call.patch("/api/v1/apis/billing/", {"max_age": 60})
    services.add_origin(actor=actor, api=api, value="https://shop.example.com")

    def actions(query: str) -> list[str]:
        response = call.get(f"/api/v1/audit/{query}")
        assert response.status_code == 200, response.content
        return [e["action"] for e in response.json()["results"]]

    # Then the caller sees their team's events only, newest first
    assert actions("") == ["origin.added", "api.updated", "api.created"]
    assert actions("?action=origin.added") == ["origin.added"]
    assert actions("?api=billing&action=api.created") == ["api.created"]
    assert actions("?api=search") == []
    # And "actor" by username also finds that person's personal-token changes
    assert actions("?actor=mia") == ["origin.added", "api.updated", "api.created"]
    today = timezone.now().date()
    assert len(actions(f"?since={today}&until={today}")) == 3
    assert actions(f"?until={today - timedelta(days=1)}") == []
    since = urlencode({"since": (timezone.now() - timedelta(minutes=5)).isoformat()})
    assert len(actions(f"?{since}")) == 3
    assert actions(f"?since={today + timedelta(days=1)}") == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("since=9999-12-31T23:59:59-05:00", "since"),
        ("until=9999-12-31", "until"),
        ("action=api.exploded", "action"),
        ("cursor=bm9wZQ", "cursor"),
        ("api=%00", "api"),
    ],
)
def test_audit__bad_parameter__400_naming_it(call: Caller, query: str, parameter: str) -> None:
    response = call.get(f"/api/v1/audit/?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [parameter]


def test_audit__cursor_pagination__pages_complete_and_disjoint(
    call: Caller, api: Api, actor: Actor
) -> None:
    for n in range(6):
        services.update_api(actor=actor, api=api, max_age=100 + n)
    seen: list[int] = []
    url: str | None = "/api/v1/audit/?page_size=3"
    while url:
        body = call.get(url).json()
        seen += [e["sequence"] for e in body["results"]]
        url = body["next"]
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) == 7


def test_audit__outsider_and_superuser__see_only_what_they_may(
    as_user: Callable[[User], Caller], outsider: User, admin: User, api: Api
) -> None:
    # An outsider sees nothing of another team's API
    assert as_user(outsider).get("/api/v1/audit/").json()["results"] == []
    # A superuser sees every event, also those about no API (e.g. personal tokens issued)
    events = as_user(admin).get("/api/v1/audit/").json()["results"]
    assert "billing" in [e["api"] for e in events]
    assert {e["object_type"] for e in events if not e["api"]} <= {"access_token"}


def test_audit__api_deleted__team_still_sees_its_events(call: Caller) -> None:
    call.delete("/api/v1/apis/billing/")
    actions = [e["action"] for e in call.get("/api/v1/audit/").json()["results"]]
    assert actions == ["api.deleted", "api.created"]


# --- authentication -------------------------------------------------------------------------


def test_personal_token__wrong_revoked_expired__401_with_www_authenticate(
    member: User, api: Api
) -> None:
    # Given a revoked and an expired personal token
    revoked, revoked_secret = services.issue_access_token(
        actor=Actor.for_user(member), user=member, name="old"
    )
    services.revoke_access_token(actor=Actor.for_user(member), token=revoked)
    expired, expired_secret = services.issue_access_token(
        actor=Actor.system(), user=member, name="short"
    )
    AccessToken.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    # When any of them (or a made-up one, or a service token) is used
    _, service_secret = services.issue_service_token(
        actor=Actor.for_user(member), name="web", apis=[api]
    )
    for secret in ("corsp_made-up", revoked_secret, expired_secret, service_secret, ""):
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        response = Client().get("/api/v1/apis/", headers=headers)
        # Then 401 with a challenge, never the data
        assert response.status_code == 401, secret
        assert response["WWW-Authenticate"] == 'Bearer realm="corsadmin"'


def test_personal_token__inactive_user__401(member: User, api: Api) -> None:
    _, secret = services.issue_access_token(actor=Actor.system(), user=member, name="t")
    member.is_active = False
    member.save()
    response = Client().get("/api/v1/apis/", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_session_write__without_csrf_token__403_nothing_changed(member: User, api: Api) -> None:
    # Given a logged-in browser session, CSRF checks on
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    log = Events()
    # When a write arrives without the CSRF token (a cross-site form post)
    response = client.patch("/api/v1/apis/billing/", {"name": "pwned"}, content_type=JSON)
    # Then it is refused and nothing changed
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert log.new() == []
    # While reads need no token
    assert client.get("/api/v1/apis/billing/").status_code == 200


def test_token_write__audited_as_the_token_acting_for_the_user(member: User, api: Api) -> None:
    caller = _token_caller(member)
    log = Events()
    assert caller.patch("/api/v1/apis/billing/", {"max_age": 60}).status_code == 200
    event = log.one(caller, "api.updated")
    assert caller.token is not None
    assert event.actor_id == caller.token.pk
    assert event.actor_name.startswith("mia (token corsp_")
    api.refresh_from_db()
    assert (api.updated_by_id, api.updated_by_label) == (None, event.actor_name)


def test_management_api__service_token_secret_only_prefix_stored(
    call: Caller,
) -> None:
    response = call.post("/api/v1/apis/billing/tokens/", {"name": "web"})
    secret = response.json()["secret"]
    assert not ServiceToken.objects.filter(digest=secret).exists()
    assert secret not in str(list(ServiceToken.objects.values()))
