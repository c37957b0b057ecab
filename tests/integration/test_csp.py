"""Content-Security-Policy on every page, and nothing inline that it would have to allow.

Pages are found from the URL configuration (tests/pages.py), so templates added later are
covered; the template scan covers fragments only POSTs render.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.pages import dashboard_urls, is_page, populate

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("policies/**/templates")]

# What a strict policy refuses: script bodies, event-handler attributes (also htmx's hx-on,
# which evaluates code), style attributes and <style> blocks.
INLINE = {
    "inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "on*= handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "hx-on handler": re.compile(r"<[^>]*\shx-on[:-]", re.IGNORECASE),
    "style= attribute": re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE),
    "<style> block": re.compile(r"<style\b", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def inline_code(html: str) -> list[str]:
    return [what for what, pattern in INLINE.items() if pattern.search(html)]


def test_inline_code__detector__finds_each_kind() -> None:
    # The detector itself: each kind is found, and clean markup passes
    assert inline_code('<script>alert(1)</script><p onclick="x()">') == [
        "inline <script>",
        "on*= handler",
    ]
    assert inline_code('<div style="color: red"><style>p{}</style>') == [
        "style= attribute",
        "<style> block",
    ]
    assert inline_code('<button hx-on:click="x()">') == ["hx-on handler"]
    assert inline_code('<a href="javascript:void(0)">') == ["javascript: URL"]
    assert inline_code('<script src="/static/a.js" defer></script><p class="on">') == []


def test_templates__every_file__no_inline_code() -> None:
    templates = [path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html")]
    assert len(templates) >= 20
    found = {str(path.relative_to(ROOT)): inline_code(path.read_text()) for path in templates}
    # drf-spectacular's own page is replaced by templates/drf_spectacular/swagger_ui.html
    assert {name: kinds for name, kinds in found.items() if kinds} == {}


@pytest.mark.django_db
def test_every_page__rendered__csp_header_and_no_inline_code(client: Client) -> None:
    # Given a member with APIs, tokens, history and telemetry to show
    member, samples = populate()
    client.force_login(member)
    pages = []
    # When every dashboard URL is fetched
    for name, path in dashboard_urls(samples).items():
        response = client.get(path)
        content_type = response.get("Content-Type", "")
        if response.status_code != 200 or not content_type.startswith("text/html"):
            continue
        html = response.content.decode()
        # Then no HTML it sends, page or fragment, carries inline code
        assert inline_code(html) == [], name
        if is_page(content_type, html):
            pages.append(name)
            # And every page carries the policy: nothing from elsewhere, nothing inline
            policy = response["Content-Security-Policy"]
            assert "default-src 'none'" in policy
            assert "script-src 'self'" in policy
            assert "style-src 'self'" in policy
            assert "unsafe-inline" not in policy
            assert "frame-ancestors 'none'" in policy
    assert {"dashboard:api-list", "dashboard:api-detail", "dashboard:audit-log"} <= set(pages)


@pytest.mark.django_db
def test_error_and_login_pages__csp_header(client: Client) -> None:
    for path, status in (("/accounts/login/", 200), ("/no/such/page/", 404)):
        response = client.get(path)
        assert response.status_code == status
        assert "default-src 'none'" in response["Content-Security-Policy"]
        assert inline_code(response.content.decode()) == []


@pytest.mark.django_db
def test_favicon__served_from_this_server(client: Client) -> None:
    page = client.get("/accounts/login/").content.decode()
    match = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert match is not None
    icon = client.get(match.group(1))
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    # And the address browsers ask for by themselves leads to it
    redirect = client.get("/favicon.ico")
    assert redirect.status_code == 301
    assert redirect["Location"] == match.group(1)
