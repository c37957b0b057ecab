"""The webhooks pages in a real headless Chromium against the live server, delivering to a
real local receiver (eager Celery in the tests: the delivery runs right after the commit)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect
from standardwebhooks.webhooks import Webhook

from policies import services
from policies.actors import Actor
from policies.models import Api
from tests.browser.test_dashboard_browser import (  # noqa: F401  (fixtures)
    _log_in,
    _page,
    _plain_http_cookies,
    browser,
    people,
)
from tests.receiver import running
from webhooks.models import Subscription

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_webhooks_page__create_receive_redeliver__signed_and_logged(
    browser: Browser,  # noqa: F811
    live_server: Any,
    people: dict[str, User],  # noqa: F811
    settings: Any,
) -> None:
    settings.CORSADMIN_WEBHOOKS_ALLOW_PRIVATE = True  # the receiver is on loopback
    base = live_server.url
    page = _page(browser, permissions=["clipboard-read", "clipboard-write"])
    _log_in(page, base, "mia", "pw-mia-12345")
    with running() as receiver:
        # When mia subscribes her team to published policies from the Webhooks page
        page.get_by_role("link", name="Webhooks").click()
        form = page.locator("#new-webhook")
        form.get_by_label("Name").fill("ops channel")
        form.get_by_label("Team").select_option(label="payments")
        form.get_by_label("URL").fill(receiver.url)
        form.get_by_label("policy.published").check()
        form.get_by_label("Why").fill("on-call wants to know")
        form.get_by_role("button", name="Create subscription").click()
        # Then the secret is shown once, with a copy button that works
        box = page.locator("#new-secret-box")
        expect(box).to_contain_text("It will not be shown again.")
        secret = page.locator("#new-secret").input_value()
        assert secret.startswith("whsec_")
        box.get_by_role("button", name="Copy").click()
        assert page.evaluate("navigator.clipboard.readText()") == secret
        subscription = Subscription.objects.get(name="ops channel")

        # When a change to one of the team's APIs is published
        checkout = Api.objects.get(slug="checkout")
        services.update_api(
            actor=Actor.for_user(people["mia"]), api=checkout, max_age=1200, comment="tune"
        )
        # Then the receiver gets it and the stock library verifies it
        [first] = receiver.wait_count(1)
        event = Webhook(secret).verify(first.body, first.headers)
        assert (event["type"], event["data"]["api"]["slug"]) == ("policy.published", "checkout")

        # And the subscription's page shows the delivery and its attempt
        page.get_by_role("link", name="ops channel").click()
        row = page.locator("#deliveries tbody tr").first
        expect(row).to_contain_text("policy.published")
        expect(row).to_contain_text("delivered")
        expect(row).to_contain_text("HTTP 200")
        # When she presses Redeliver / Then it is sent again with the same id
        row.get_by_role("button", name="Redeliver").click()
        expect(page.locator(".msg-success")).to_contain_text("Sending policy.published")
        second = receiver.wait_count(2)[1]
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        expect(page.locator("#deliveries tbody tr").first.locator("ol li")).to_have_count(2)
    assert subscription.team is not None
