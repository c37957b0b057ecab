"""The dashboard through Django's test client: pages, permissions, writes, search, audit, export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from policies import services
from policies.actors import Actor
from policies.models import Api, AuditEvent, OriginRule, PolicyVersion

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def admin_user(db: None) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-root-12345")


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def other_api(outsider: User, other_team: Group) -> Api:
    return services.create_api(
        actor=Actor.for_user(outsider),
        slug="search-api",
        name="Search",
        team=other_team,
        origins=[{"kind": "exact", "value": "https://secret.example.org"}],
    )


def _url(name: str, *args: Any) -> str:
    return reverse(f"dashboard:{name}", args=args)


def _html(response: Any) -> str:
    return response.content.decode()


def _field_block(html: str, input_name: str) -> str:
    """The `<div class="field ...">` that holds the input named `input_name`."""
    for block in re.findall(r'<div class="field[^"]*">.*?</div>', html, flags=re.S):
        if f'name="{input_name}"' in block:
            return block
    raise AssertionError(f"no field block for {input_name}")


def _origin_post(api: Api, value: str, **extra: str) -> dict[str, str]:
    data = {
        "add-kind": "exact",
        "add-value": value,
        "add-note": "",
        "add-expires_in": "",
        "add-expires_at": "",
        "add-comment": "",
        "add-expected_version": str(api.version),
    }
    data.update({f"add-{key}": value for key, value in extra.items()})
    return data


def _settings_post(api: Api, **changes: Any) -> dict[str, Any]:
    api.refresh_from_db()
    data: dict[str, Any] = {
        "name": api.name,
        "description": api.description,
        "team": str(api.team_id),
        "environment": api.environment,
        "mode": api.mode,
        "paths": api.paths,
        "methods": list(api.methods),
        "request_headers": ", ".join(api.request_headers),
        "expose_headers": ", ".join(api.expose_headers),
        "max_age": str(api.max_age),
        "comment": "",
        "expected_version": str(api.version),
    }
    for flag in ("allow_credentials", "allow_private_network", "allow_null", "allow_all"):
        if getattr(api, flag):
            data[flag] = "on"
    for key, value in changes.items():
        if value is False:
            data.pop(key, None)
        elif value is True:
            data[key] = "on"
        else:
            data[key] = value
    return data


# --- pages and roles -------------------------------------------------------------------------


def _page_urls(api: Api) -> list[str]:
    return [
        _url("api-list"),
        _url("api-create"),
        _url("api-detail", api.slug),
        _url("api-history", api.slug),
        _url("api-rollback", api.slug, 1),
        _url("api-delete", api.slug),
        _url("audit-log"),
        _url("api-simulate", api.slug) + "?origin=https://app.example.com&method=GET",
        _url("api-tokens", api.slug),
        _url("my-tokens"),
    ]


def test_pages__member__each_renders(member_client: Client, api: Api) -> None:
    for url in _page_urls(api):
        response = member_client.get(url)
        assert response.status_code == 200, url
        assert "Billing" in _html(response) or "Audit log" in _html(response), url


def test_pages__anonymous__redirected_to_login(client: Client, api: Api) -> None:
    for url in [*_page_urls(api), _url("audit-export-csv"), _url("audit-export-jsonl")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_htmx_request__session_expired__hx_redirect_to_login(client: Client, api: Api) -> None:
    response = client.post(
        _url("origin-add", api.slug),
        _origin_post(api, "https://b.example.com"),
        HTTP_HX_CURRENT_URL="http://testserver/apis/billing/",
        **HTMX,
    )
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Fapis%2Fbilling%2F"


def test_login_page__renders_form(client: Client) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="username"' in _html(response)


def test_api_pages__outsider__404_everywhere(outsider_client: Client, api: Api) -> None:
    rule = api.origins.get()
    urls = [
        _url("api-detail", api.slug),
        _url("api-history", api.slug),
        _url("api-rollback", api.slug, 1),
        _url("api-delete", api.slug),
        _url("api-simulate", api.slug) + "?origin=https://a.example&method=GET",
        _url("origins", api.slug),
        _url("origin-row", api.slug, rule.pk),
        _url("origin-edit", api.slug, rule.pk),
    ]
    for url in urls:
        assert outsider_client.get(url).status_code == 404, url
    # Writes are 404 too, and change nothing
    posts = [
        (_url("origin-add", api.slug), _origin_post(api, "https://evil.example")),
        (_url("origin-remove", api.slug, rule.pk), {}),
        (_url("origin-toggle", api.slug, rule.pk), {}),
        (_url("api-detail", api.slug), _settings_post(api, allow_all=True)),
        (_url("api-rollback", api.slug, 1), {"expected_version": "1"}),
    ]
    for url, data in posts:
        assert outsider_client.post(url, data).status_code == 404, url
    api.refresh_from_db()
    assert api.version == 1


def test_api_list__outsider__other_teams_api_not_listed_nor_found(
    outsider_client: Client, api: Api
) -> None:
    for query in ("", "billing", "https://app.example.com", "app.example"):
        response = outsider_client.get(_url("api-list"), {"q": query})
        assert response.status_code == 200
        assert _slugs(response) == set(), query
        assert "/apis/billing/" not in _html(response), query


def test_detail__read_only_member__no_edit_controls(read_only_client: Client, api: Api) -> None:
    response = read_only_client.get(_url("api-detail", api.slug))
    html = _html(response)
    assert response.status_code == 200
    assert "https://app.example.com" in html
    assert 'id="add-origin"' not in html
    assert "Save settings" not in html
    assert "read only" in html


def test_writes__read_only_member__refused_and_nothing_changed(
    read_only_client: Client, api: Api
) -> None:
    rule = api.origins.get()
    posts = [
        (_url("origin-add", api.slug), _origin_post(api, "https://b.example.com")),
        (_url("origin-remove", api.slug, rule.pk), {"expected_version": "1"}),
        (_url("origin-toggle", api.slug, rule.pk), {"expected_version": "1"}),
        (_url("api-detail", api.slug), _settings_post(api, max_age="60")),
        (_url("api-rollback", api.slug, 1), {"expected_version": "1"}),
        (_url("api-delete", api.slug), {"confirm_slug": "billing", "expected_version": "1"}),
        (_url("api-create"), {"slug": "x", "name": "x", "environment": "staging"}),
    ]
    for url, data in posts:
        assert read_only_client.post(url, data).status_code == 403, url
    api.refresh_from_db()
    assert api.version == 1
    assert AuditEvent.objects.count() == 1


def test_post__without_csrf_token__refused(member: User, api: Api) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(_url("origin-add", api.slug), _origin_post(api, "https://b.example"))
    assert response.status_code == 403
    assert not OriginRule.objects.filter(value="https://b.example").exists()


def test_base_template__htmx_sends_csrf_header_and_no_eval(member_client: Client) -> None:
    html = _html(member_client.get(_url("api-list")))
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert '"allowEval":false' in html
    assert "<script>" not in html  # no inline script


# --- create, settings ------------------------------------------------------------------------


def test_create_api__member__created_in_own_team_with_comment(
    member_client: Client, team: Group
) -> None:
    response = member_client.post(
        _url("api-create"),
        {
            "slug": "orders",
            "name": "Orders",
            "team": str(team.pk),
            "environment": "staging",
            "mode": "enforce",
            "comment": "new service",
        },
    )
    assert response.status_code == 302
    api = Api.objects.get(slug="orders")
    assert api.team == team
    event = AuditEvent.objects.get(api_slug="orders")
    assert (event.action, event.actor_name, event.comment) == ("api.created", "mia", "new service")


def test_create_api__other_teams_group__refused_beside_team(
    member_client: Client, other_team: Group
) -> None:
    response = member_client.post(
        _url("api-create"),
        {
            "slug": "orders",
            "name": "Orders",
            "team": str(other_team.pk),
            "environment": "staging",
            "mode": "enforce",
        },
    )
    assert response.status_code == 422
    assert "Select a valid choice" in _field_block(_html(response), "team")
    assert not Api.objects.filter(slug="orders").exists()


def test_create_api__taken_slug__error_beside_slug(member_client: Client, api: Api) -> None:
    response = member_client.post(
        _url("api-create"),
        {
            "slug": "billing",
            "name": "Again",
            "team": str(api.team_id),
            "environment": "staging",
            "mode": "enforce",
        },
    )
    assert response.status_code == 422
    assert "you already have an API" in _field_block(_html(response), "slug")


def test_settings__valid_change__saved_with_comment(member_client: Client, api: Api) -> None:
    data = _settings_post(
        api, max_age="120", methods=["GET", "POST"], expose_headers="X-Request-Id", comment="faster"
    )
    response = member_client.post(_url("api-detail", api.slug), data)
    assert response.status_code == 302
    api.refresh_from_db()
    assert api.max_age == 120
    assert api.methods == ["GET", "POST"]
    assert api.expose_headers == ["x-request-id"]
    event = AuditEvent.objects.latest("sequence")
    assert (event.action, event.comment) == ("api.updated", "faster")


def test_settings__lint_error__blocked_error_beside_field(member_client: Client, api: Api) -> None:
    # When allow-all is turned on together with credentials (an exploitable combination)
    data = _settings_post(api, allow_all=True, allow_credentials=True)
    response = member_client.post(_url("api-detail", api.slug), data)
    # Then nothing is saved and the error is shown beside the allow-all switch
    assert response.status_code == 422
    assert "cookies" in _field_block(_html(response), "allow_all")
    api.refresh_from_db()
    assert api.version == 1


def test_settings__new_warning__saved_only_after_confirmation(
    member_client: Client, api: Api
) -> None:
    # Given a change that brings a warning (the null origin)
    data = _settings_post(api, allow_null=True)
    first = member_client.post(_url("api-detail", api.slug), data)
    # Then the first save asks for confirmation and saves nothing
    assert first.status_code == 422
    html = _html(first)
    assert "I understand" in html
    assert "sandboxed iframes" in html
    api.refresh_from_db()
    assert api.allow_null is False
    # When the same change is confirmed (with the digest of the warnings shown)
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', html)
    assert digest is not None
    data.update(confirm="on", digest=digest.group(1))
    second = member_client.post(_url("api-detail", api.slug), data)
    assert second.status_code == 302
    api.refresh_from_db()
    assert api.allow_null is True


def test_settings__invalid_header_and_paths__errors_beside_fields_input_kept(
    member_client: Client, api: Api
) -> None:
    data = _settings_post(api, request_headers="x-ok, bad header(", paths="^/api/(")
    response = member_client.post(_url("api-detail", api.slug), data)
    html = _html(response)
    assert response.status_code == 422
    assert "not a valid header name" in _field_block(html, "request_headers")
    assert 'value="x-ok, bad header("' in _field_block(html, "request_headers")
    assert "not a valid regular expression" in _field_block(html, "paths")


def test_settings__stale_version__message_changes_and_input_kept(
    member_client: Client, api: Api, actor: Actor
) -> None:
    # Given the page was loaded at version 1, and someone else changed the API since
    data = _settings_post(api, max_age="300")
    services.add_origin(actor=actor, api=api, value="https://late.example.com")
    # When the stale form is saved
    response = member_client.post(_url("api-detail", api.slug), data)
    html = _html(response)
    # Then it is refused with a clear message, what changed, and the input kept
    assert response.status_code == 422
    assert "changed since you loaded it" in html
    assert "https://late.example.com" in html
    assert 'name="max_age" value="300"' in html
    assert 'name="expected_version" value="2"' in html
    api.refresh_from_db()
    assert api.max_age == 600


# --- origins -----------------------------------------------------------------------------------


def test_origin_add__origin_with_path__error_beside_field_input_kept(
    member_client: Client, api: Api
) -> None:
    response = member_client.post(
        _url("origin-add", api.slug), _origin_post(api, "https://example.com/path")
    )
    assert response.status_code == 422
    block = _field_block(_html(response), "add-value")
    assert "origins have no path: remove &#x27;/path&#x27;" in block
    assert 'value="https://example.com/path"' in block
    assert not OriginRule.objects.filter(value__startswith="https://example.com").exists()


def test_origin_add__htmx_with_path__section_with_error_and_input(
    member_client: Client, api: Api
) -> None:
    response = member_client.post(
        _url("origin-add", api.slug), _origin_post(api, "https://example.com/path"), **HTMX
    )
    html = _html(response)
    assert response.status_code == 422
    assert html.lstrip().startswith('<section id="origins"')
    assert "origins have no path" in _field_block(html, "add-value")


def test_origin_add__htmx_valid__listed_new_version_out_of_band(
    member_client: Client, api: Api
) -> None:
    data = _origin_post(
        api, "HTTPS://Shop.Example.com:443", note="shop", expires_in="7", comment="preview week"
    )
    response = member_client.post(_url("origin-add", api.slug), data, **HTMX)
    html = _html(response)
    assert response.status_code == 200
    assert "https://shop.example.com" in html
    assert 'id="api-version" class="badge badge-version" hx-swap-oob="true">v2<' in html
    assert 'id="settings-version" hx-swap-oob="true"' in html
    rule = OriginRule.objects.get(value="https://shop.example.com")
    assert rule.expires_at is not None
    assert timedelta(days=6, hours=23) < rule.expires_at - timezone.now() <= timedelta(days=7)
    event = AuditEvent.objects.latest("sequence")
    assert (event.action, event.comment) == ("origin.added", "preview week")


def test_origin_add__plain_post__redirects_to_detail(member_client: Client, api: Api) -> None:
    response = member_client.post(
        _url("origin-add", api.slug), _origin_post(api, "https://b.example.com")
    )
    assert response.status_code == 302
    assert OriginRule.objects.filter(value="https://b.example.com").exists()


def test_origin_add__stale_version__message_and_input_kept(
    member_client: Client, api: Api, actor: Actor
) -> None:
    data = _origin_post(api, "https://b.example.com")
    services.update_api(actor=actor, api=api, max_age=30)
    response = member_client.post(_url("origin-add", api.slug), data, **HTMX)
    html = _html(response)
    assert response.status_code == 422
    assert "changed since you loaded it" in html
    assert 'value="https://b.example.com"' in _field_block(html, "add-value")
    assert not OriginRule.objects.filter(value="https://b.example.com").exists()


def test_origin_add__production_http_origin__warning_needs_confirmation(
    member_client: Client, api: Api, actor: Actor, settings: Any
) -> None:
    # (production here for its lint rules, without the approval that widening there needs)
    settings.CORSADMIN_APPROVALS = ""
    services.update_api(actor=actor, api=api, environment="production")
    api.refresh_from_db()
    data = _origin_post(api, "http://shop.example.com")
    first = member_client.post(_url("origin-add", api.slug), data, **HTMX)
    assert first.status_code == 422
    assert "plain http" in _html(first)
    assert not OriginRule.objects.filter(value="http://shop.example.com").exists()
    digest = re.search(r'name="add-digest" value="([0-9a-f]+)"', _html(first))
    assert digest is not None
    data.update({"add-confirm": "on", "add-digest": digest.group(1)})
    second = member_client.post(_url("origin-add", api.slug), data, **HTMX)
    assert second.status_code == 200
    assert OriginRule.objects.filter(value="http://shop.example.com").exists()


def test_origin_add__wildcard_on_public_suffix__error_beside_field(
    member_client: Client, api: Api
) -> None:
    data = _origin_post(api, "https://*.com", kind="wildcard")
    response = member_client.post(_url("origin-add", api.slug), data, **HTMX)
    assert response.status_code == 422
    assert "top-level domain" in _field_block(_html(response), "add-value")


def test_origin_edit__htmx__row_form_then_saved(member_client: Client, api: Api) -> None:
    rule = api.origins.get()
    row = member_client.get(_url("origin-edit", api.slug, rule.pk), **HTMX)
    assert row.status_code == 200
    assert _html(row).lstrip().startswith(f'<tr id="origin-{rule.pk}" class="editing">')
    prefix = f"o{rule.pk}"
    response = member_client.post(
        _url("origin-edit", api.slug, rule.pk),
        {
            f"{prefix}-kind": "exact",
            f"{prefix}-value": "https://app.example.com",
            f"{prefix}-note": "the web app",
            f"{prefix}-enabled": "on",
            f"{prefix}-expected_version": "1",
            f"{prefix}-comment": "label it",
        },
        **HTMX,
    )
    assert response.status_code == 200
    rule.refresh_from_db()
    assert rule.note == "the web app"
    assert AuditEvent.objects.latest("sequence").action == "origin.changed"


def test_origin_toggle__htmx_prompt__disabled_with_comment(member_client: Client, api: Api) -> None:
    rule = api.origins.get()
    response = member_client.post(
        _url("origin-toggle", api.slug, rule.pk),
        {"expected_version": "1"},
        HTTP_HX_PROMPT="pausing partner",
        **HTMX,
    )
    assert response.status_code == 200
    rule.refresh_from_db()
    assert rule.enabled is False
    event = AuditEvent.objects.latest("sequence")
    assert (event.action, event.comment) == ("origin.changed", "pausing partner")


def test_origin_remove__htmx__removed_and_event(member_client: Client, api: Api) -> None:
    rule = api.origins.get()
    response = member_client.post(
        _url("origin-remove", api.slug, rule.pk),
        {"expected_version": "1"},
        HTTP_HX_PROMPT="partner gone",
        **HTMX,
    )
    assert response.status_code == 200
    assert "No origins yet" in _html(response)
    event = AuditEvent.objects.latest("sequence")
    assert (event.action, event.comment) == ("origin.removed", "partner gone")


def test_origin_remove__stale_version__refused_with_message(
    member_client: Client, api: Api
) -> None:
    rule = api.origins.get()
    response = member_client.post(
        _url("origin-remove", api.slug, rule.pk), {"expected_version": "7"}, **HTMX
    )
    assert response.status_code == 409
    assert "changed since you loaded it" in _html(response)
    assert OriginRule.objects.filter(pk=rule.pk).exists()


def test_detail__propagation_delay__poll_plus_capped_max_age(
    member_client: Client, api: Api, actor: Actor, settings: Any
) -> None:
    settings.CORSADMIN_CONSUMER_POLL_SECONDS = 30
    services.update_api(actor=actor, api=api, max_age=86400)
    html = _html(member_client.get(_url("api-detail", api.slug)))
    assert "up to 7230 s" in html
    assert "Chromium caps at 7200" in html


def test_detail__lint_findings_shown(member_client: Client, api: Api, actor: Actor) -> None:
    services.update_api(actor=actor, api=api, allow_null=True)
    html = _html(member_client.get(_url("api-detail", api.slug)))
    assert "null-origin-allowed" in html


# --- simulator ---------------------------------------------------------------------------------


def test_simulator__listed_origin__allowed_with_exact_headers(
    member_client: Client, api: Api
) -> None:
    response = member_client.get(
        _url("api-simulate", api.slug),
        {"origin": "https://app.example.com", "method": "GET", "path": "/", "credentials": "omit"},
        **HTMX,
    )
    html = _html(response)
    assert "Allowed" in html
    assert "Access-Control-Allow-Origin: https://app.example.com" in html
    assert "Vary: Origin" in html


def test_simulator__put_with_header__preflight_then_request(
    member_client: Client, api: Api
) -> None:
    response = member_client.get(
        _url("api-simulate", api.slug),
        {
            "origin": "https://app.example.com",
            "method": "PUT",
            "path": "/",
            "request_headers": "Content-Type",
            "credentials": "omit",
        },
        **HTMX,
    )
    html = _html(response)
    assert "Preflight (OPTIONS)" in html
    assert "Access-Control-Request-Method: PUT" in html
    assert "Access-Control-Allow-Methods:" in html
    assert "Allowed" in html


def test_simulator__unlisted_origin__blocked_no_cors_headers(
    member_client: Client, api: Api
) -> None:
    response = member_client.get(
        _url("api-simulate", api.slug),
        {"origin": "https://evil.example", "method": "GET", "path": "/", "credentials": "include"},
        **HTMX,
    )
    html = _html(response)
    assert "Blocked" in html
    answer = re.search(r"Consumer answers.*?<pre[^>]*>(.*?)</pre>", html, flags=re.S)
    assert answer is not None
    assert answer.group(1).strip() == "Vary: Origin"
    assert "no Access-Control-Allow-Origin header" in html


# --- search and list -----------------------------------------------------------------------------


def _slugs(response: Any) -> set[str]:
    return set(re.findall(r'<div class="muted mono small">([a-z0-9-]+)</div>', _html(response)))


def test_search__by_origin__exact_wildcard_regex_and_allow_all(
    member_client: Client, actor: Actor, team: Group
) -> None:
    def make(slug: str, origins: list[dict[str, str]], **extra: Any) -> None:
        services.create_api(actor=actor, slug=slug, name=slug, team=team, origins=origins, **extra)

    make("exact", [{"kind": "exact", "value": "https://x.example.com"}])
    make("wild", [{"kind": "wildcard", "value": "https://*.example.com"}])
    make("rx", [{"kind": "regex", "value": r"^https://[a-z]+\.example\.com$"}])
    make("everyone", [], allow_all=True)
    make("other", [{"kind": "exact", "value": "https://y.example.com"}])
    make("bare", [{"kind": "wildcard", "value": "https://*.x.example.com"}])
    response = member_client.get(_url("api-list"), {"q": "HTTPS://X.example.com:443"})
    assert _slugs(response) == {"exact", "wild", "rx", "everyone"}
    assert "APIs that accept <code>https://x.example.com</code>" in _html(response)


def test_search__expired_or_disabled_rule__not_trusting(
    member_client: Client, api: Api, actor: Actor
) -> None:
    rule = api.origins.get()
    services.update_origin(actor=actor, rule=rule, enabled=False)
    response = member_client.get(_url("api-list"), {"q": "https://app.example.com"})
    assert _slugs(response) == set()


def test_search__text__name_slug_or_part_of_origin(member_client: Client, api: Api) -> None:
    for query in ("Bill", "billing", "app.example"):
        assert _slugs(member_client.get(_url("api-list"), {"q": query})) == {"billing"}, query
    assert _slugs(member_client.get(_url("api-list"), {"q": "nothing"})) == set()


def test_list__filters__team_environment_mode_lint(
    member_client: Client, api: Api, actor: Actor, team: Group
) -> None:
    services.create_api(
        actor=Actor.system("set-up"),
        slug="prod",
        name="Prod",
        team=team,
        environment="production",
        mode="off",
        allow_null=True,
    )
    get = member_client.get
    assert _slugs(get(_url("api-list"), {"environment": "production"})) == {"prod"}
    assert _slugs(get(_url("api-list"), {"mode": "off"})) == {"prod"}
    assert _slugs(get(_url("api-list"), {"team": str(team.pk)})) == {"billing", "prod"}
    assert _slugs(get(_url("api-list"), {"lint": "warning"})) == {"prod"}
    assert _slugs(get(_url("api-list"), {"lint": "ok"})) == {"billing"}


def test_list__row__origins_count_version_and_who(member_client: Client, api: Api) -> None:
    html = _html(member_client.get(_url("api-list")))
    assert '<td class="num">1</td>' in html
    assert "v1" in html
    assert "by mia" in html


def _bulk_apis(team: Group, count: int) -> None:
    Api.objects.bulk_create(
        [Api(slug=f"api-{i:05d}", name=f"API {i}", team=team) for i in range(count)],
        batch_size=2000,
    )
    ids = list(Api.objects.filter(slug__startswith="api-").values_list("pk", flat=True))
    exact = [OriginRule(api_id=pk, kind="exact", value=f"https://a{pk}.example.com") for pk in ids]
    corp = "https://*.corp.example"
    wild = [OriginRule(api_id=pk, kind="wildcard", value=corp) for pk in ids[::10]]
    OriginRule.objects.bulk_create(exact + wild, batch_size=2000)


def _heartbeats(slugs: list[str], instance: str) -> None:
    """One consumer instance reporting the current version of each of `slugs`."""
    services.record_consumer_report(
        token_id=None,
        token_name="fleet",
        apis=frozenset(slugs),
        payload={
            "instance": instance,
            "heartbeat": [{"api": slug, "version": 1, "stale": False} for slug in slugs],
        },
    )


def test_list__ten_thousand_apis__bounded_queries(
    member_client: Client, team: Group, django_assert_max_num_queries: Any
) -> None:
    _bulk_apis(team, 10_000)
    # Every API of page 3 has consumers: their freshness is one query for the page
    page_three = [f"api-{i:05d}" for i in range(100, 150)]
    _heartbeats(page_three, "host-a")
    _heartbeats(page_three, "host-b")
    # (13: the page header asks once whether one of your webhooks was disabled: the banner)
    with django_assert_max_num_queries(13):
        response = member_client.get(_url("api-list"), {"page": "3"})
    assert response.status_code == 200
    assert "Page 3 of 200" in _html(response)
    assert _html(response).count(">2 up to date<") == 50
    with django_assert_max_num_queries(13):
        response = member_client.get(_url("api-list"), {"q": "https://a.corp.example"})
    assert "Page 1 of 20 · 1000 in all" in _html(response)


# --- history and rollback ------------------------------------------------------------------------


def test_history__two_versions__readable_diff(
    member_client: Client, api: Api, actor: Actor
) -> None:
    services.add_origin(actor=actor, api=api, value="https://b.example.com", comment="partner")
    services.update_api(actor=actor, api=api, max_age=60)
    html = _html(member_client.get(_url("api-history", api.slug), {"a": "1", "b": "3"}))
    assert "Version 1 → version 3" in html
    assert '<div class="add"><span aria-hidden="true">+</span> https://b.example.com</div>' in html
    changed = '<span class="del">600</span> <span class="arrow">→</span> <span class="add">60<'
    assert changed in html
    assert 'id="v2"' in html
    assert "partner" in html


def test_rollback__confirmed__new_version_with_old_state(
    member_client: Client, api: Api, actor: Actor
) -> None:
    services.add_origin(actor=actor, api=api, value="https://b.example.com")
    confirm = member_client.get(_url("api-rollback", api.slug, 1))
    assert "Roll back to version 1?" in _html(confirm)
    assert "https://b.example.com" in _html(confirm)
    response = member_client.post(
        _url("api-rollback", api.slug, 1), {"expected_version": "2", "comment": "undo"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?at=3#v3")
    api.refresh_from_db()
    assert api.version == 3
    assert list(api.origins.values_list("value", flat=True)) == ["https://app.example.com"]
    event = AuditEvent.objects.latest("sequence")
    assert (event.action, event.comment) == ("api.rolled_back", "undo")


def test_rollback__stale_version__refused_with_message(
    member_client: Client, api: Api, actor: Actor
) -> None:
    services.add_origin(actor=actor, api=api, value="https://b.example.com")
    response = member_client.post(_url("api-rollback", api.slug, 1), {"expected_version": "1"})
    assert response.status_code == 422
    assert "changed since you loaded it" in _html(response)
    assert PolicyVersion.objects.filter(api=api).count() == 2


def test_delete__typed_slug__deleted_and_event_kept(member_client: Client, api: Api) -> None:
    wrong = member_client.post(
        _url("api-delete", api.slug), {"confirm_slug": "nope", "expected_version": "1"}
    )
    assert wrong.status_code == 422
    response = member_client.post(
        _url("api-delete", api.slug),
        {"confirm_slug": "billing", "expected_version": "1", "comment": "retired"},
    )
    assert response.status_code == 302
    assert not Api.objects.filter(slug="billing").exists()
    assert AuditEvent.objects.latest("sequence").action == "api.deleted"


# --- audit log -----------------------------------------------------------------------------------


@pytest.fixture
def history(api: Api, actor: Actor, other_api: Api) -> Api:
    services.add_origin(actor=actor, api=api, value="https://b.example.com", comment="partner b")
    services.update_api(actor=actor, api=api, max_age=60)
    return api


def _sequences(response: Any) -> list[int]:
    return [int(s) for s in re.findall(r'id="event-(\d+)"', _html(response))]


def test_audit__member__only_own_teams_events(member_client: Client, history: Api) -> None:
    response = member_client.get(_url("audit-log"))
    html = _html(response)
    assert response.status_code == 200
    assert "search-api" not in html
    assert len(_sequences(response)) == 3


def test_audit__filters__api_actor_action_dates_and_origin(
    admin_client: Client, history: Api
) -> None:
    get = admin_client.get
    all_events = _sequences(get(_url("audit-log")))
    assert len(all_events) == 4
    assert len(_sequences(get(_url("audit-log"), {"api": "billing"}))) == 3
    assert len(_sequences(get(_url("audit-log"), {"actor": "oscar"}))) == 1
    assert len(_sequences(get(_url("audit-log"), {"action": "origin.added"}))) == 1
    assert len(_sequences(get(_url("audit-log"), {"q": "https://b.example.com"}))) == 1
    assert len(_sequences(get(_url("audit-log"), {"q": "HTTPS://APP.example.com"}))) == 1
    today = timezone.now().date()
    assert len(_sequences(get(_url("audit-log"), {"since": today, "until": today}))) == 4
    tomorrow = today + timedelta(days=1)
    assert _sequences(get(_url("audit-log"), {"since": tomorrow})) == []
    bad = get(_url("audit-log"), {"since": tomorrow, "until": today})
    assert "the end date is before the start date" in _html(bad)


def test_audit__event__diff_coloured_and_link_to_version(
    member_client: Client, history: Api
) -> None:
    html = _html(member_client.get(_url("audit-log")))
    assert '<div class="add"><span aria-hidden="true">+</span> https://b.example.com</div>' in html
    assert '<span class="del">600</span>' in html
    assert f'href="{_url("api-history", "billing")}?at=2#v2"' in html
    assert "“partner b”" in html


def test_audit__deleted_api__events_for_its_team_and_superusers_only(
    member_client: Client,
    admin_client: Client,
    outsider_client: Client,
    api: Api,
    actor: Actor,
) -> None:
    # Given the team's API was deleted (its events outlive it)
    services.delete_api(actor=actor, api=api)
    # Then the owning team still sees its history, as the management API shows it, and
    # another team never does
    assert len(_sequences(member_client.get(_url("audit-log")))) == 2
    assert len(_sequences(admin_client.get(_url("audit-log")))) == 2
    assert _sequences(outsider_client.get(_url("audit-log"))) == []


def test_audit__pagination__cursor_older_and_newer(
    member_client: Client, api: Api, actor: Actor
) -> None:
    for i in range(55):
        services.update_api(actor=actor, api=api, max_age=i + 1)
    first = _sequences(member_client.get(_url("audit-log")))
    assert len(first) == 50
    older = _sequences(member_client.get(_url("audit-log"), {"before": first[-1]}))
    assert older == list(range(first[-1] - 1, 0, -1))
    newer = _sequences(member_client.get(_url("audit-log"), {"after": older[0]}))
    assert newer == first


def _streamed(response: Any) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def test_export_csv__filtered__streamed_rows(member_client: Client, history: Api) -> None:
    response = member_client.get(_url("audit-export-csv"), {"action": "origin.added"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_streamed(response))))
    assert len(rows) == 1
    assert rows[0]["object_repr"] == "exact https://b.example.com"
    assert rows[0]["comment"] == "partner b"
    assert json.loads(rows[0]["after"])["value"] == "https://b.example.com"


def test_export_jsonl__member__own_events_in_chain_order(
    member_client: Client, history: Api
) -> None:
    response = member_client.get(_url("audit-export-jsonl"))
    lines = [json.loads(line) for line in _streamed(response).splitlines()]
    assert [line["action"] for line in lines] == ["api.created", "origin.added", "api.updated"]
    assert {line["api_slug"] for line in lines} == {"billing"}
    assert lines[2]["diff"] == [{"field": "max_age", "before": 600, "after": 60}]


def test_export_csv__formula_in_comment__neutralised(
    member_client: Client, api: Api, actor: Actor
) -> None:
    services.update_api(actor=actor, api=api, max_age=5, comment='=HYPERLINK("x")')
    rows = list(csv.DictReader(io.StringIO(_streamed(member_client.get(_url("audit-export-csv"))))))
    assert rows[-1]["comment"] == '\'=HYPERLINK("x")'


# --- log-in lockout ------------------------------------------------------------------------------


def test_login__five_failures__lockout_page(client: Client, member: User) -> None:
    for _ in range(5):
        client.post(reverse("login"), {"username": "mia", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "mia", "password": "pw-mia-12345"})
    assert response.status_code == 429
    assert "Too many failed log-ins" in _html(response)
