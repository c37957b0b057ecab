"""The dashboard end to end in a real headless Chromium (Playwright) against the live server.

With CORSADMIN_SCREENSHOTS=1 the test also saves screenshots of the main pages to
docs/screenshots/ (CI leaves them alone).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from policies import services
from policies.actors import Actor
from policies.models import Api, AuditEvent, OriginRule, ServiceToken
from tests.tools import missing

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        missing(f"Chromium ({CHROMIUM})", "apt-get install chromium")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls made around it
    # (by the tests and by the database teardown) are ordinary synchronous calls.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield launched
            launched.close()


@pytest.fixture(autouse=True)
def _plain_http_cookies(settings: Any) -> None:
    # The live server speaks plain http: Secure-only cookies would never come back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


def _page(browser: Browser, *, permissions: list[str] | None = None) -> Page:
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, permissions=permissions or []
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    # hx-prompt asks why (the audit comment) before enabling, disabling or removing.
    page.on("dialog", lambda dialog: _answer(dialog))
    # Content-Security-Policy violations, during page loads and htmx swaps alike.
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.csp_violations = violations  # type: ignore[attr-defined]
    return page


def _no_csp_violation(page: Page) -> None:
    assert page.csp_violations == []  # type: ignore[attr-defined]


def _answer(dialog: Dialog) -> None:
    dialog.accept("checked in the browser test")


def _shot(page: Page, name: str, *, full_page: bool = False) -> None:
    if os.environ.get("CORSADMIN_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def _shot_sections(page: Page, name: str, *selectors: str) -> None:
    """A screenshot of just these sections of the page (one above the other)."""
    if os.environ.get("CORSADMIN_SCREENSHOTS") != "1":
        return
    boxes = [page.locator(selector).bounding_box() for selector in selectors]
    assert all(boxes)
    scroll = page.evaluate("[window.scrollX, window.scrollY]")
    left = min(b["x"] for b in boxes if b) - 16 + scroll[0]
    top = min(b["y"] for b in boxes if b) - 16 + scroll[1]
    right = max(b["x"] + b["width"] for b in boxes if b) + 16 + scroll[0]
    bottom = max(b["y"] + b["height"] for b in boxes if b) + 16 + scroll[1]
    page.screenshot(
        path=str(SCREENSHOTS / f"{name}.png"),
        full_page=True,
        clip={"x": left, "y": top, "width": right - left, "height": bottom - top},
    )


def _log_in(page: Page, base: str, username: str, password: str, *, shot: bool = False) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    if shot:
        _shot(page, "login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="APIs")).to_be_visible()


@pytest.fixture
def people(transactional_db: None) -> dict[str, User]:
    payments = Group.objects.create(name="payments")
    search = Group.objects.create(name="search")
    mia = User.objects.create_user("mia", password="pw-mia-12345")
    mia.groups.add(payments)
    oscar = User.objects.create_user("oscar", password="pw-oscar-12345")
    oscar.groups.add(search)
    # A few more APIs so the list has something to show.
    actor = Actor.for_user(mia)
    services.create_api(
        actor=Actor.system("set-up"),  # mia creating it so would wait for approval
        slug="checkout",
        name="Checkout",
        team=payments,
        environment="production",
        allow_credentials=True,
        origins=[
            {"kind": "exact", "value": "https://shop.example.com"},
            {"kind": "wildcard", "value": "https://*.shop.example.com"},
        ],
        comment="launch",
    )
    services.create_api(
        actor=actor,
        slug="ledger",
        name="Ledger",
        team=payments,
        mode="report-only",
        origins=[{"kind": "exact", "value": "http://localhost:3000"}],
    )
    services.create_api(
        actor=Actor.for_user(oscar),
        slug="search-web",
        name="Search web",
        team=search,
        origins=[{"kind": "exact", "value": "https://search.example.org"}],
    )
    return {"mia": mia, "oscar": oscar}


def test_dashboard__member_flow__create_add_reject_simulate_rollback(
    browser: Browser, live_server: Any, people: dict[str, User]
) -> None:
    base = live_server.url
    page = _page(browser)

    # Given mia logs in
    _log_in(page, base, "mia", "pw-mia-12345", shot=True)

    # When she creates an API
    page.get_by_role("link", name="New API").click()
    page.get_by_label("Slug").fill("billing")
    page.get_by_label("Name").fill("Billing")
    page.get_by_label("Environment").select_option("staging")
    page.get_by_label("Why (recorded in the audit log)").fill("new billing service")
    page.get_by_role("button", name="Create API").click()
    expect(page.get_by_role("heading", name=re.compile("^Billing"))).to_be_visible()
    expect(page.locator("#api-version")).to_have_text("v1")

    # And adds a valid origin, typed the way people paste it: it is listed in canonical form
    add = page.locator("#add-origin")
    add.get_by_label("Origin").fill("HTTPS://App.Example.com:443/")
    add.get_by_label("Note").fill("the web app")
    add.get_by_label("Why (recorded in the audit log)").fill("go live")
    add.get_by_role("button", name="Add origin").click()
    rows = page.locator("#origins tbody")
    expect(rows).to_contain_text("https://app.example.com")
    expect(page.locator("#api-version")).to_have_text("v2")

    # And a preview origin for 7 days
    add = page.locator("#add-origin")
    add.get_by_label("Origin").fill("https://pr-42.preview.example.com")
    add.get_by_label("Note").fill("PR 42 preview")
    add.get_by_label("Allow for").select_option("7")
    add.get_by_role("button", name="Add origin").click()
    expect(rows).to_contain_text("https://pr-42.preview.example.com")
    expect(rows).to_contain_text("in 6 days")
    expect(page.locator("#api-version")).to_have_text("v3")

    # When she enters an origin with a path
    add = page.locator("#add-origin")
    add.get_by_label("Origin").fill("https://example.com/path")
    add.get_by_role("button", name="Add origin").click()
    # Then the error is shown beside the origin field, the input kept, nothing added
    field = page.locator("#add-origin .field.has-error")
    expect(field).to_contain_text("origins have no path: remove '/path'")
    expect(field.locator("input")).to_have_value("https://example.com/path")
    expect(page.locator("#api-version")).to_have_text("v3")

    # When she runs the simulator for a credentialed PUT with a JSON body
    simulator = page.locator("#simulator")
    simulator.get_by_label("Origin").fill("https://app.example.com")
    simulator.get_by_label("Method").select_option("PUT")
    simulator.get_by_label("Path").fill("/invoices/7")
    simulator.get_by_label("Request headers").fill("content-type, authorization")
    simulator.get_by_role("button", name="Simulate").click()
    result = page.locator("#sim-result")
    # Then she sees the decision, the exact headers and the reason
    expect(result).to_contain_text("Allowed: the page can read the response.")
    expect(result).to_contain_text("Access-Control-Request-Method: PUT")
    expect(result).to_contain_text("Access-Control-Allow-Origin: https://app.example.com")
    expect(result).to_contain_text("Why:")
    _shot(page, "api-detail", full_page=True)

    # And a refused origin is shown as blocked
    simulator.get_by_label("Origin").fill("https://evil.example")
    simulator.get_by_role("button", name="Simulate").click()
    expect(result).to_contain_text("Blocked at the preflight")

    # When she rolls back to version 2 (before the preview origin)
    page.get_by_role("link", name="History").click()
    expect(page.locator("#v3")).to_be_visible()
    page.locator("#v2").get_by_role("link", name="Roll back to v2…").click()
    expect(page.get_by_role("heading", name="Roll back to version 2?")).to_be_visible()
    page.get_by_label("Why (recorded in the audit log)").fill("preview finished early")
    page.get_by_role("button", name="Roll back to v2").click()
    # Then a new version 4 exists with version 2's origins
    expect(page.locator(".msg-success")).to_contain_text("this is version 4")
    expect(page.locator("#v4")).to_contain_text("preview finished early")
    expect(page.locator("#compare")).to_contain_text("https://pr-42.preview.example.com")
    _shot(page, "history")
    api = Api.objects.get(slug="billing")
    assert api.version == 4
    assert list(api.origins.values_list("value", flat=True)) == ["https://app.example.com"]

    # The audit log shows every change with who and why
    page.get_by_role("link", name="Audit log").first.click()
    expect(page.locator(".event").first).to_contain_text("Rolled back")
    expect(page.locator("body")).to_contain_text("“go live”")
    _shot(page, "audit-log", full_page=False)
    assert AuditEvent.objects.filter(api_slug="billing").count() == 4

    page.goto(f"{base}/")
    expect(page.locator("table.apis")).to_contain_text("billing")
    _shot(page, "api-list")
    _no_csp_violation(page)
    page.context.close()

    # Given a user of another team
    other = _page(browser)
    _log_in(other, base, "oscar", "pw-oscar-12345")
    # Then the API is a 404 for them
    response = other.goto(f"{base}/apis/billing/")
    assert response is not None
    assert response.status == 404
    response = other.goto(f"{base}/apis/billing/history/")
    assert response is not None
    assert response.status == 404
    # And search finds it neither by name nor by origin
    for query in ("billing", "https://app.example.com"):
        other.goto(f"{base}/?q={query}")
        expect(other.locator("main")).not_to_contain_text("/apis/billing/")
        expect(other.locator("table.apis")).to_have_count(0)
    other.context.close()


def test_dashboard__read_only_member__no_edit_controls(
    browser: Browser, live_server: Any, people: dict[str, User]
) -> None:
    rita = User.objects.create_user("rita", password="pw-rita-12345")
    rita.groups.add(
        Group.objects.get(name="payments"), Group.objects.get_or_create(name="read-only")[0]
    )
    page = _page(browser)
    _log_in(page, live_server.url, "rita", "pw-rita-12345")
    page.get_by_role("link", name="Checkout").click()
    expect(page.locator("#origins")).to_contain_text("https://shop.example.com")
    expect(page.locator("#add-origin")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove")).to_have_count(0)
    expect(page.locator("body")).to_contain_text("read only")
    _no_csp_violation(page)
    page.context.close()


def test_dashboard__inline_edit_disable_remove__each_saved_in_place(
    browser: Browser, live_server: Any, people: dict[str, User]
) -> None:
    page = _page(browser)
    _log_in(page, live_server.url, "mia", "pw-mia-12345")
    page.get_by_role("link", name="Checkout").click()
    rule = page.locator("#origins tbody tr", has_text="https://shop.example.com").first
    # When the rule's note is edited in place
    rule.get_by_role("link", name="Edit").click()
    editing = page.locator("#origins tr.editing")
    editing.get_by_label("Note").fill("storefront")
    # (checkout is a production API: every change there says why)
    editing.get_by_label("Why (recorded in the audit log)").fill("renamed")
    editing.get_by_role("button", name="Save").click()
    expect(page.locator("#origins")).to_contain_text("Saved https://shop.example.com.")
    expect(page.locator("#origins")).to_contain_text("storefront")
    # When it is disabled (the prompt's answer is the audit comment)
    row = page.locator("#origins tbody tr", has_text="storefront")
    row.get_by_role("button", name="Disable").click()
    expect(page.locator("#origins tbody tr", has_text="storefront")).to_contain_text("disabled")
    # When the wildcard rule is removed
    wildcard = page.locator("#origins tbody tr", has_text="https://*.shop.example.com")
    wildcard.get_by_role("button", name="Remove").click()
    expect(page.locator("#origins")).to_contain_text("Removed https://*.shop.example.com.")
    expect(page.locator("#origins tbody")).not_to_contain_text("https://*.shop.example.com")
    expect(page.locator("#api-version")).to_have_text("v4")
    _no_csp_violation(page)
    page.context.close()
    events = AuditEvent.objects.filter(api_slug="checkout").order_by("sequence")
    assert [(e.action, e.comment) for e in events][1:] == [
        ("origin.changed", "renamed"),
        ("origin.changed", "checked in the browser test"),
        ("origin.removed", "checked in the browser test"),
    ]


def _telemetry(api: Api, token: ServiceToken) -> None:
    """Heartbeats and refusals as two consumer processes report them."""
    for instance, stale in (("web-7f9c:1:a1", False), ("web-2b1d:1:c3", True)):
        services.record_consumer_report(
            token_id=token.pk,
            token_name=token.name,
            apis=frozenset({api.slug}),
            payload={
                "instance": instance,
                "service": "checkout-web",
                "heartbeat": [
                    {
                        "api": api.slug,
                        "version": api.version,
                        "mode": api.mode,
                        "age": 420.0 if stale else 3.0,
                        "stale": stale,
                        "source": "central",
                        "last_error": "central answered 503" if stale else None,
                    }
                ],
                "refused": [
                    {
                        "api": api.slug,
                        "origin": "https://partner.example.net",
                        "reason": "origin-not-allowed",
                        "count": 12,
                        "sample": "origin https://partner.example.net is not allowed",
                    }
                ],
            },
        )


def test_dashboard__tokens_consumers_refused__issue_copy_revoke_allow(
    browser: Browser, live_server: Any, people: dict[str, User], settings: Any
) -> None:
    # "Allow" adds in place where no approval is needed (checkout is production: approvals
    # off here; the change-request flow has its own browser test)
    settings.CORSADMIN_APPROVALS = ""
    base = live_server.url
    page = _page(browser, permissions=["clipboard-read", "clipboard-write"])
    _log_in(page, base, "mia", "pw-mia-12345")
    page.get_by_role("link", name="Checkout").click()

    # When mia issues a service token from the API's Tokens tab
    page.get_by_role("link", name="Tokens", exact=True).click()
    form = page.locator("#issue-token")
    form.get_by_label("Name").fill("checkout-web")
    form.get_by_label("Expires after (days)").fill("90")
    form.get_by_label("ledger").check()
    form.get_by_label("Why (recorded in the audit log)").fill("new checkout consumer")
    form.get_by_role("button", name="Issue token").click()
    # Then the secret is shown once, with a warning
    box = page.locator("#new-token")
    expect(box).to_contain_text("It will not be shown again.")
    secret = page.locator("#new-secret").input_value()
    assert secret.startswith("cors_")
    token = ServiceToken.objects.get(name="checkout-web")
    assert {api.slug for api in token.apis.all()} == {"checkout", "ledger"}
    expect(page.locator(f"#token-{token.pk}")).to_contain_text(f"{token.prefix}…")
    # And the copy button puts it on the clipboard
    box.get_by_role("button", name="Copy").click()
    expect(box.get_by_role("button", name="Copied")).to_be_visible()
    expect(page.locator("#new-secret-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    # The picture shows a made-up secret: a real-looking one in the repository would be
    # (rightly) flagged by secret scanners.
    page.locator("#new-secret").evaluate(
        "(input, value) => { input.value = value; }", "cors_EXAMPLE-shown-once-not-a-real-token"
    )
    _shot(page, "tokens")

    # And it is not on the page any more once she comes back
    page.get_by_role("link", name="Tokens", exact=True).click()
    expect(page.locator("#tokens")).to_contain_text("checkout-web")
    expect(page.locator("#new-token")).to_have_count(0)
    assert secret not in page.content()

    # When consumers report with the token, the API page shows them and what they refused
    _telemetry(Api.objects.get(slug="checkout"), token)
    page.get_by_role("link", name="Policy").click()
    consumers = page.locator("#consumers")
    expect(consumers).to_contain_text("2 instances seen in the last hour")
    expect(consumers.locator("tr", has_text="web-7f9c:1:a1")).to_contain_text("up to date")
    expect(consumers.locator("tr", has_text="web-2b1d:1:c3")).to_contain_text("stale")
    refused = page.locator("#refused")
    row = refused.locator("tr", has_text="https://partner.example.net")
    expect(row).to_contain_text("24")
    _shot_sections(page, "consumers", "#refused", "#consumers")
    # And "Allow" (the prompt asks why) adds the origin in place, audited
    row.get_by_role("button", name="Allow").click()
    expect(page.locator("#origins")).to_contain_text("Added https://partner.example.net.")
    expect(page.locator("#origins tbody")).to_contain_text("https://partner.example.net")
    expect(row).to_contain_text("allowed now")
    expect(page.locator("#api-version")).to_have_text("v2")
    added = AuditEvent.objects.filter(api_slug="checkout", action="origin.added")
    assert [e.comment for e in added] == ["checked in the browser test"]
    assert OriginRule.objects.filter(value="https://partner.example.net").exists()

    # When she revokes the token, confirming and saying why
    page.get_by_role("link", name="Tokens", exact=True).click()
    page.locator(f"#token-{token.pk}").get_by_role("link", name="Revoke…").click()
    page.get_by_label("Why (recorded in the audit log)").fill("moved to a new token")
    page.get_by_role("button", name="Revoke token").click()
    expect(page.locator(".msg-success")).to_contain_text("Revoked checkout-web")
    expect(page.locator(f"#token-{token.pk}")).to_contain_text("revoked")
    token.refresh_from_db()
    assert token.revoked_at is not None
    revoked = AuditEvent.objects.filter(action="token.revoked").values_list("comment", flat=True)
    assert set(revoked) == {"moved to a new token"}

    # Her personal access tokens are one click away in the header
    page.get_by_role("link", name="My access tokens").click()
    page.locator("#issue-token").get_by_label("Name").fill("deploy script")
    page.get_by_role("button", name="Issue token").click()
    expect(page.locator("#new-token")).to_contain_text("It will not be shown again.")
    assert page.locator("#new-secret").input_value().startswith("corsp_")
    page.context.close()
