"""Widening production access takes two people: the whole flow in headless Chromium.

Author, approver, auditor, another team and a superuser (break-glass), against the live
server; the audit chain is verified at the end. With CORSADMIN_SCREENSHOTS=1 it saves
docs/screenshots/change-request.png and change-requests.png for the README.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import Browser, Page, expect

from policies import audit, services
from policies.actors import Actor
from policies.models import AuditEvent, ChangeRequest, OriginRule
from tests.browser.test_dashboard_browser import _log_in, _page, _shot, browser

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with the dashboard tests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WHY = "Why (recorded in the audit log)"


@pytest.fixture
def people(transactional_db: None) -> dict[str, User]:
    payments = Group.objects.create(name="payments")
    search = Group.objects.create(name="search")
    auditors = Group.objects.get_or_create(name="auditor")[0]
    users = {}
    for name, groups, superuser in (
        ("mia", [payments], False),
        ("ada", [payments], False),
        ("oscar", [search], False),
        ("audrey", [auditors], False),
        ("root", [], True),
    ):
        user = User.objects.create_user(name, password=f"pw-{name}-12345", is_superuser=superuser)
        user.groups.add(*groups)
        users[name] = user
    services.create_api(
        actor=Actor.system("set-up"),  # mia creating it so would wait for approval
        slug="checkout",
        name="Checkout",
        team=payments,
        environment="production",
        origins=[
            {"kind": "exact", "value": "https://shop.example.com"},
            {"kind": "exact", "value": "https://old.shop.example.com"},
        ],
        comment="launch",
    )
    return users


def _as(browser: Browser, base: str, name: str) -> Page:
    page = _page(browser)
    _log_in(page, base, name, f"pw-{name}-12345")
    return page


def test_change_request__author_approver_auditor_other_team_break_glass(
    browser: Browser, live_server: Any, people: dict[str, User]
) -> None:
    base = live_server.url

    # Given mia, an editor of payments, on the production API checkout
    mia = _as(browser, base, "mia")
    mia.get_by_role("link", name="Checkout").click()
    expect(mia.locator("#api-version")).to_have_text("v1")

    # When she removes an origin (narrowing): it applies at once
    old = mia.locator("#origins tbody tr", has_text="https://old.shop.example.com")
    old.get_by_role("button", name="Remove").click()
    expect(mia.locator("#origins")).to_contain_text("Removed https://old.shop.example.com.")
    expect(mia.locator("#api-version")).to_have_text("v2")

    # When she adds a partner origin (widening), saying why
    add = mia.locator("#add-origin")
    add.get_by_label("Origin").fill("https://partner.example.com")
    add.get_by_label(WHY).fill("partner launch PAY-7")
    add.get_by_role("button", name="Add origin").click()
    # Then she lands on the change request it opened, nothing applied yet
    expect(mia).to_have_url(re.compile(r"/change-requests/\d+/$"))
    expect(mia.locator("#cr-state")).to_have_text("Open")
    expect(mia.locator("#cr-widens")).to_contain_text(
        "exact origin https://partner.example.com allowed"
    )
    expect(mia.locator("#cr-diff")).to_contain_text("https://partner.example.com")
    expect(mia.locator("#flash")).to_contain_text("waits for approval")
    # And she cannot approve her own request: there is no Approve button
    expect(mia.get_by_role("button", name="Approve")).to_have_count(0)
    expect(mia.locator("#review")).to_contain_text("another editor of team payments")
    # And she says more in the discussion
    mia.get_by_label("Add a message").fill("The partner's app goes live on Monday.")
    mia.get_by_role("button", name="Send").click()
    expect(mia.locator("#cr-discussion")).to_contain_text("goes live on Monday")
    request = ChangeRequest.objects.get()
    assert not OriginRule.objects.filter(value="https://partner.example.com").exists()
    # And the API page lists the pending request
    mia.get_by_role("link", name="checkout").first.click()
    expect(mia.locator("#pending-requests")).to_contain_text(f"#{request.pk}")
    expect(mia.locator("#api-version")).to_have_text("v2")

    # When ada, another editor of payments, logs in, her header counts one to review
    ada = _as(browser, base, "ada")
    expect(ada.locator("#header-review-count")).to_have_text("1")
    ada.get_by_role("link", name=re.compile("^Change requests")).click()
    expect(ada.locator("table.change-requests")).to_contain_text("partner.example.com")
    _shot(ada, "change-requests")
    ada.get_by_role("link", name=re.compile("add exact origin")).click()
    # And she runs the simulator on the proposed policy: the partner is allowed there
    ada.get_by_label("Origin", exact=True).fill("https://partner.example.com")
    ada.get_by_role("button", name="Simulate").click()
    expect(ada.locator("#sim-result .sim-verdict")).to_have_class(re.compile("sim-ok"))
    _shot(ada, "change-request", full_page=True)
    # And approves: the one approval needed is reached and the change applies
    ada.get_by_label("Approve (optional comment)").fill("contract signed")
    ada.get_by_role("button", name="Approve").click()
    expect(ada.locator("#cr-state")).to_have_text("Applied")
    expect(ada.locator("#flash")).to_contain_text("is now version 3")

    # The auditor reads the API, the request and the audit log, and may change nothing
    audrey = _as(browser, base, "audrey")
    expect(audrey.locator("table.apis")).to_contain_text("Checkout")
    audrey.goto(f"{base}/change-requests/{request.pk}/")
    expect(audrey.locator("#cr-state")).to_have_text("Applied")
    expect(audrey.locator("#review")).to_have_count(0)
    audrey.goto(f"{base}/audit/")
    expect(audrey.locator("body")).to_contain_text("Change request applied")

    # Another team's member gets a 404 for the request
    oscar = _as(browser, base, "oscar")
    answer = oscar.goto(f"{base}/change-requests/{request.pk}/")
    assert answer is not None
    assert answer.status == 404

    # A second widening request, applied by a superuser through break-glass, with a reason
    mia.get_by_role("link", name="checkout").first.click()
    mia.locator("#settings").get_by_label("Allow credentials").check()
    mia.locator("#settings").get_by_label(WHY).fill("session cookies for checkout")
    mia.locator("#settings").get_by_role("button", name=re.compile("Save")).click()
    expect(mia.locator("#cr-state")).to_have_text("Open")
    second = ChangeRequest.objects.exclude(pk=request.pk).get()
    root = _as(browser, base, "root")
    root.goto(f"{base}/change-requests/{second.pk}/")
    # (a superuser who is not the author may approve; break-glass needs no approval at all)
    root.get_by_text("Break glass (superusers)").click()
    root.get_by_label("Why can this not wait?").fill("checkout login is down")
    root.get_by_role("button", name="Break glass and apply").click()
    expect(root.locator("#cr-state")).to_have_text("Applied")

    for page in (mia, ada, audrey, oscar, root):
        page.context.close()
    # Every step is in the audit log, and the hash chain verifies
    actions = list(
        AuditEvent.objects.filter(api_slug="checkout")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == [
        "api.created",
        "origin.removed",
        "change_request.opened",
        "change_request.commented",
        "change_request.approved",
        "change_request.applied",
        "change_request.opened",
        "change.break_glass",
    ]
    checked, problem = audit.verify_chain()
    assert problem is None
    assert checked == len(actions)
