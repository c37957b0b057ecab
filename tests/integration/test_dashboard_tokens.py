"""Tokens in the dashboard: an API's service tokens and a person's own access tokens.

The secret is in the response that issued it and nowhere else: not in the database (only
its digest), not in the session or a message, not on any later page.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from policies import services
from policies.actors import Actor
from policies.models import AccessToken, Api, AuditEvent, ServiceToken

pytestmark = pytest.mark.django_db

SERVICE_SECRET = re.compile(r"cors_[A-Za-z0-9_-]{40,}")
PERSONAL_SECRET = re.compile(r"corsp_[A-Za-z0-9_-]{40,}")


def _url(name: str, *args: Any) -> str:
    return reverse(f"dashboard:{name}", args=args)


def _html(response: Any) -> str:
    return response.content.decode()


def _issue(client: Client, api: Api, **fields: Any) -> Any:
    data = {"name": "billing-web", "expires_in_days": "", "comment": ""}
    data.update(fields)
    return client.post(_url("api-tokens", api.slug), data)


def _secret(response: Any, pattern: re.Pattern[str] = SERVICE_SECRET) -> str:
    found = set(pattern.findall(_html(response)))
    assert len(found) == 1, found
    return found.pop()


def _session_and_cookies(client: Client) -> str:
    """Everything kept between requests: every stored session, and the browser's cookies
    (which also carry Django's messages)."""
    stored = [session.get_decoded() for session in Session.objects.all()]
    return f"{stored!r} {client.cookies.output()}"


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-root-1"))
    return client


@pytest.fixture
def orders(actor: Actor, team: Group) -> Api:
    return services.create_api(actor=actor, slug="orders", name="Orders", team=team)


@pytest.fixture
def other_api(outsider: User, other_team: Group) -> Api:
    return services.create_api(
        actor=Actor.for_user(outsider), slug="search-api", name="Search", team=other_team
    )


# --- service tokens: issue --------------------------------------------------------------------


def test_issue__member__secret_shown_once_only_digest_stored(
    member_client: Client, api: Api
) -> None:
    # When mia issues a token for billing
    response = _issue(member_client, api, expires_in_days="30", comment="new consumer")
    # Then the response shows the secret once, with a copy button and the warning
    assert response.status_code == 200
    secret = _secret(response)
    html = _html(response)
    assert "It will not be shown again." in html
    assert 'data-copy-from="new-secret"' in html
    assert "dashboard/copy.js" in html
    assert "<script>" not in html  # no inline script
    assert "no-store" in response["Cache-Control"]
    # And only its digest and a short prefix are stored
    token = ServiceToken.objects.get()
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(token.prefix)
    assert len(token.prefix) < 16
    assert secret not in {str(value) for value in vars(token).values()}
    assert list(token.apis.all()) == [api]
    assert token.created_by is not None
    assert token.created_by.username == "mia"
    assert token.expires_at is not None
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    event = AuditEvent.objects.latest("sequence")
    assert (event.action, event.actor_name, event.comment) == (
        "token.issued",
        "mia",
        "new consumer",
    )
    assert secret not in str(event.after)
    # And it is nowhere afterwards: not in the session or cookies, not on any later page
    assert secret not in _session_and_cookies(member_client)
    for url in (
        _url("api-tokens", api.slug),
        _url("api-detail", api.slug),
        _url("api-list"),
        _url("audit-log"),
        _url("my-tokens"),
    ):
        later = member_client.get(url)
        assert later.status_code == 200, url
        assert secret not in _html(later), url
        assert not SERVICE_SECRET.search(_html(later)), url
    listed = _html(member_client.get(_url("api-tokens", api.slug)))
    assert "billing-web" in listed
    assert f"{token.prefix}…" in listed


def test_issue__works_at_the_policy_endpoint_until_revoked(member_client: Client, api: Api) -> None:
    secret = _secret(_issue(member_client, api))
    headers = {"Authorization": f"Bearer {secret}"}
    assert member_client.get("/api/v1/policies/billing", headers=headers).status_code == 200
    token = ServiceToken.objects.get()
    response = member_client.post(
        _url("api-token-revoke", api.slug, token.pk), {"comment": "leaked"}
    )
    assert response.status_code == 302
    assert Client().get("/api/v1/policies/billing", headers=headers).status_code == 401


def test_issue__other_apis__checkboxes_of_editable_apis_only(
    member_client: Client, api: Api, orders: Api, other_api: Api
) -> None:
    # The form offers the member's other APIs, never another team's
    html = _html(member_client.get(_url("api-tokens", api.slug)))
    assert 'name="also" value="orders"' in html
    assert "search-api" not in html
    # A token for billing and orders
    response = _issue(member_client, api, also=["orders"])
    assert response.status_code == 200
    token = ServiceToken.objects.get()
    assert {a.slug for a in token.apis.all()} == {"billing", "orders"}
    assert AuditEvent.objects.filter(action="token.issued").count() == 2  # one per API
    # Another team's API is refused beside the field, and nothing is issued
    refused = _issue(member_client, api, name="sneaky", also=["search-api"])
    assert refused.status_code == 422
    assert "Select a valid choice" in _html(refused)
    assert not SERVICE_SECRET.search(_html(refused))
    assert ServiceToken.objects.count() == 1


def test_issue__many_editable_apis__typed_slugs_checked(
    member_client: Client, api: Api, team: Group, other_api: Api
) -> None:
    for i in range(45):
        services.create_api(actor=Actor.system(), slug=f"svc-{i:02d}", name=f"S{i}", team=team)
    html = _html(member_client.get(_url("api-tokens", api.slug)))
    assert 'type="checkbox"' not in html
    assert "Also for (API slugs)" in html
    refused = _issue(member_client, api, also="svc-01, search-api")
    assert refused.status_code == 422
    assert "not an API you may edit: search-api" in _html(refused)
    response = _issue(member_client, api, also="svc-01 svc-02")
    assert response.status_code == 200
    assert {a.slug for a in ServiceToken.objects.get().apis.all()} == {
        "billing",
        "svc-01",
        "svc-02",
    }


def test_issue__missing_name_and_bad_expiry__errors_beside_fields(
    member_client: Client, api: Api
) -> None:
    response = _issue(member_client, api, name="", expires_in_days="0")
    html = _html(response)
    assert response.status_code == 422
    assert "This field is required." in html
    assert "greater than or equal to 1" in html
    assert not ServiceToken.objects.exists()


# --- service tokens: revoke ----------------------------------------------------------------------


def test_revoke__confirmed__revoked_and_audited_with_comment(
    member_client: Client, api: Api, actor: Actor
) -> None:
    token, _ = services.issue_service_token(actor=actor, name="billing-web", apis=[api])
    page = member_client.get(_url("api-tokens", api.slug))
    assert _url("api-token-revoke", api.slug, token.pk) in _html(page)
    # The confirmation says what happens and asks why
    confirm = member_client.get(_url("api-token-revoke", api.slug, token.pk))
    assert confirm.status_code == 200
    assert "Revoke billing-web" in _html(confirm)
    assert "Why (recorded in the audit log)" in _html(confirm)
    token.refresh_from_db()
    assert token.revoked_at is None
    # When confirmed
    response = member_client.post(
        _url("api-token-revoke", api.slug, token.pk), {"comment": "leaked in a CI log"}
    )
    assert response.status_code == 302
    assert response["Location"] == _url("api-tokens", api.slug)
    token.refresh_from_db()
    assert token.revoked_at is not None
    event = AuditEvent.objects.latest("sequence")
    assert (event.action, event.actor_name, event.comment) == (
        "token.revoked",
        "mia",
        "leaked in a CI log",
    )
    listed = _html(member_client.get(_url("api-tokens", api.slug)))
    assert "revoked" in listed
    assert _url("api-token-revoke", api.slug, token.pk) not in listed
    # Revoking again changes nothing
    again = member_client.post(_url("api-token-revoke", api.slug, token.pk), {"comment": "x"})
    assert again.status_code == 302
    assert AuditEvent.objects.filter(action="token.revoked").count() == 1


def test_tokens__read_only_member__list_without_controls_and_writes_refused(
    read_only_client: Client, api: Api, actor: Actor
) -> None:
    token, _ = services.issue_service_token(actor=actor, name="billing-web", apis=[api])
    response = read_only_client.get(_url("api-tokens", api.slug))
    html = _html(response)
    assert response.status_code == 200
    assert "billing-web" in html
    assert "Issue a service token" not in html
    assert "Revoke…" not in html
    assert _issue(read_only_client, api).status_code == 403
    revoke = _url("api-token-revoke", api.slug, token.pk)
    assert read_only_client.get(revoke).status_code == 403
    assert read_only_client.post(revoke, {"comment": "no"}).status_code == 403
    assert ServiceToken.objects.count() == 1
    token.refresh_from_db()
    assert token.revoked_at is None


def test_tokens__outsider__404_and_nothing_changed(
    outsider_client: Client, api: Api, actor: Actor
) -> None:
    token, _ = services.issue_service_token(actor=actor, name="billing-web", apis=[api])
    revoke = _url("api-token-revoke", api.slug, token.pk)
    assert outsider_client.get(_url("api-tokens", api.slug)).status_code == 404
    assert _issue(outsider_client, api).status_code == 404
    assert outsider_client.get(revoke).status_code == 404
    assert outsider_client.post(revoke, {"comment": "no"}).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert ServiceToken.objects.count() == 1


def test_revoke__token_of_another_api__404(
    member_client: Client, api: Api, orders: Api, actor: Actor
) -> None:
    token, _ = services.issue_service_token(actor=actor, name="orders-web", apis=[orders])
    assert member_client.get(_url("api-token-revoke", api.slug, token.pk)).status_code == 404


def test_revoke__token_also_reading_another_teams_api__listed_but_not_revocable(
    member_client: Client, admin_client: Client, api: Api, other_api: Api
) -> None:
    token, _ = services.issue_service_token(
        actor=Actor.system(), name="shared", apis=[api, other_api]
    )
    html = _html(member_client.get(_url("api-tokens", api.slug)))
    assert "shared" in html
    assert "and 1 API of other teams" in html
    assert "search-api" not in html  # another team's API is not named
    assert _url("api-token-revoke", api.slug, token.pk) not in html
    revoke = _url("api-token-revoke", api.slug, token.pk)
    assert member_client.post(revoke, {"comment": "x"}).status_code == 403
    # A superuser sees both APIs and may revoke it
    assert "search-api" in _html(admin_client.get(_url("api-tokens", api.slug)))
    assert admin_client.post(revoke, {"comment": "cleanup"}).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


# --- personal access tokens -----------------------------------------------------------------------


def test_header__user_menu_links_to_my_access_tokens(member_client: Client, api: Api) -> None:
    html = _html(member_client.get(_url("api-detail", api.slug)))
    assert f'<a href="{_url("my-tokens")}">My access tokens</a>' in html


def test_my_tokens__issue__secret_shown_once_works_and_only_digest_stored(
    member_client: Client, member: User, api: Api
) -> None:
    assert member_client.get(_url("my-tokens")).status_code == 200
    response = member_client.post(
        _url("my-tokens"), {"name": "deploy script", "expires_in_days": "7", "comment": "ci"}
    )
    assert response.status_code == 200
    secret = _secret(response, PERSONAL_SECRET)
    assert "It will not be shown again." in _html(response)
    assert "no-store" in response["Cache-Control"]
    token = AccessToken.objects.get()
    assert (token.user, token.name) == (member, "deploy script")
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert token.expires_at is not None
    event = AuditEvent.objects.latest("sequence")
    assert (event.action, event.comment) == ("token.issued", "ci")
    # It acts as mia on the management API
    answer = Client().get("/api/v1/apis/", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    assert "billing" in answer.content.decode()
    # And it is never shown again
    assert secret not in _session_and_cookies(member_client)
    later = _html(member_client.get(_url("my-tokens")))
    assert secret not in later
    assert "deploy script" in later
    assert f"{token.prefix}…" in later


def test_my_tokens__revoke__confirmed_audited_and_refused_afterwards(
    member_client: Client, member: User
) -> None:
    token, secret = services.issue_access_token(
        actor=Actor.for_user(member), user=member, name="laptop"
    )
    confirm = member_client.get(_url("my-token-revoke", token.pk))
    assert confirm.status_code == 200
    assert "Revoke laptop" in _html(confirm)
    response = member_client.post(_url("my-token-revoke", token.pk), {"comment": "lost laptop"})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    event = AuditEvent.objects.latest("sequence")
    assert (event.action, event.comment) == ("token.revoked", "lost laptop")
    answer = Client().get("/api/v1/apis/", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 401
    assert "revoked" in _html(member_client.get(_url("my-tokens")))


def test_my_tokens__someone_elses__not_listed_and_404(
    member_client: Client, outsider: User
) -> None:
    token, _ = services.issue_access_token(
        actor=Actor.for_user(outsider), user=outsider, name="oscar's script"
    )
    assert "oscar" not in _html(member_client.get(_url("my-tokens")))
    assert member_client.get(_url("my-token-revoke", token.pk)).status_code == 404
    assert member_client.post(_url("my-token-revoke", token.pk), {}).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_my_tokens__read_only_member__may_issue_their_own(read_only_client: Client) -> None:
    response = read_only_client.post(_url("my-tokens"), {"name": "reports"})
    assert response.status_code == 200
    assert PERSONAL_SECRET.search(_html(response))
