"""Every dashboard page fits the window, at a laptop's 1280 px and a phone's 390 px, and the
browser reports no Content-Security-Policy violation on it.

The pages are found from the URL configuration (tests/pages.py), so pages added later are
checked too. A page fails when it scrolls sideways (`scrollWidth > innerWidth`), when a
header link lies outside the window, or when a control of a table sits outside its card.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, ConsoleMessage, expect, sync_playwright

from tests.browser.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.pages import Samples, dashboard_urls, is_page, populate
from tests.tools import missing

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 390]
# The pages this repository has today: a floor, so the test cannot pass by finding none.
KNOWN_PAGES = {
    "dashboard:api-list",
    "dashboard:api-create",
    "dashboard:api-detail",
    "dashboard:api-history",
    "dashboard:api-rollback",
    "dashboard:api-delete",
    "dashboard:api-tokens",
    "dashboard:api-token-revoke",
    "dashboard:my-tokens",
    "dashboard:my-token-revoke",
    "dashboard:audit-log",
    "login",
}

# What overflows, measured in the page: the document's width, header links out of the
# window, and buttons or links of a card's table that stick out of the card.
MEASURE = """(allowScroll) => {
  const width = window.innerWidth;
  const out = (el, right) => el.getBoundingClientRect().right > right + 0.5
    || el.getBoundingClientRect().left < -0.5;
  // Inside a box that scrolls sideways (a wide table on a phone): reachable, not cut off.
  const scrolls = (el, stop) => {
    for (let box = el.parentElement; box && box !== stop; box = box.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) return true;
    }
    return false;
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const header = [...document.querySelectorAll('header a, header button')]
    .filter(el => el.offsetParent !== null && out(el, width))
    .map(el => el.textContent.trim());
  const cards = [];
  for (const card of document.querySelectorAll('.card')) {
    const right = card.getBoundingClientRect().right;
    for (const el of card.querySelectorAll('button, a, input, select, textarea')) {
      if (el.offsetParent !== null && out(el, right) && !(allowScroll && scrolls(el, card))) {
        cards.push((el.textContent || el.name || el.tagName).trim().slice(0, 40));
      }
    }
  }
  // The outermost elements that stick out of the window, to say what to fix.
  const wide = [...document.body.querySelectorAll('*')]
    .filter(el => out(el, width) && !scrolls(el, document.body)
      && !(el.parentElement && out(el.parentElement, width)))
    .slice(0, 5).map(el => `${name(el)} (${Math.round(el.getBoundingClientRect().right)} px)`);
  return {scroll: document.documentElement.scrollWidth, width, header, cards, wide};
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        missing(f"Chromium ({CHROMIUM})", "apt-get install chromium")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield launched
            launched.close()


@pytest.fixture
def site(transactional_db: None, settings: Any) -> tuple[User, Samples]:
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    return populate()


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page__window_width__fits_no_sideways_scroll_no_csp_violation(
    browser: Browser, live_server: Any, site: tuple[User, Samples], width: int
) -> None:
    _, samples = site
    urls = dashboard_urls(samples)
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    violations: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", console)
    # Given mia logged in (the log-in page itself is measured while logged out)
    page.goto(live_server.url + urls["login"])
    problems = _measure(page, "login", width)
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill("pw-mia-12345")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/")

    # When she opens every page the dashboard has
    visited = {"login"}
    for name, path in urls.items():
        if name == "login":
            continue
        # Asked first without the page (same cookies): a fragment, an export or a POST-only
        # URL is not a page.
        probe = context.request.get(live_server.url + path)
        if probe.status != 200 or not is_page(probe.headers.get("content-type", ""), probe.text()):
            continue
        response = page.goto(live_server.url + path)
        assert response is not None
        assert response.status == 200, name
        visited.add(name)
        problems += _measure(page, name, width)

    # Then every known page was visited, none scrolls sideways or sticks out, and the
    # browser refused nothing under the Content-Security-Policy
    assert visited >= KNOWN_PAGES, sorted(KNOWN_PAGES - visited)
    assert problems == [], "\n".join(problems)
    assert violations == [], "\n".join(violations)
    context.close()


def _measure(page: Any, name: str, width: int) -> list[str]:
    # CORSADMIN_LAYOUT_SHOTS=/some/dir keeps a picture of each page (for fixing layouts).
    shots = os.environ.get("CORSADMIN_LAYOUT_SHOTS")
    if shots:
        target = Path(shots) / f"{width}-{name.replace(':', '-')}.png"
        page.screenshot(path=str(target), full_page=True)
    # On a phone a wide table may scroll inside its card; on a laptop everything must fit.
    found = page.evaluate(MEASURE, width < 700)
    problems = []
    if found["scroll"] > found["width"]:
        problems.append(
            f"{name} at {width} px scrolls sideways: {found['scroll']} px wide, "
            f"because of {found['wide']}"
        )
    if found["header"]:
        problems.append(f"{name} at {width} px: header links cut off: {found['header']}")
    if found["cards"]:
        problems.append(f"{name} at {width} px: outside their card: {found['cards']}")
    return problems


def test_api_docs_and_admin__browser__render_without_csp_violation(
    browser: Browser, live_server: Any, site: tuple[User, Samples]
) -> None:
    member, _ = site
    member.is_staff = member.is_superuser = True
    member.save()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill("pw-mia-12345")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/")
    # When the API's documentation (Swagger UI, vendored) is opened, it renders the schema
    page.goto(live_server.url + "/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("corsadmin API")
    expect(page.locator(".opblock").first).to_be_visible()
    # And the Django admin's pages work under the same policy
    page.goto(live_server.url + "/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(live_server.url + "/admin/policies/api/")
    expect(page.locator("#result_list")).to_contain_text("checkout")
    page.locator("#result_list a", has_text="checkout").first.click()
    expect(page.locator("#content h1")).to_be_visible()
    # Then the browser refused nothing
    assert violations == [], "\n".join(violations)
    context.close()
