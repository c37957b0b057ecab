"""The SSRF guard and the Slack rendering: pure functions, no Django, no network (IP
literals only)."""

from __future__ import annotations

import ipaddress

import pytest

from webhooks import formats, ssrf


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
    ],
)
def test_forbidden__non_public_address__refused(address: str) -> None:
    # Given a loopback, private, link-local, shared, reserved or embedded address
    # When it is checked / Then it is forbidden
    assert ssrf.forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_forbidden__public_address__allowed(address: str) -> None:
    assert not ssrf.forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "https://"),
        ("https://user:pw@example.com/", "credentials"),
        ("https://example.com/#frag", "fragment"),
        ("https:///nohost", "no host"),
        ("https://exa mple.com/", "spaces"),
        ("", "required"),
    ],
)
def test_parse__malformed_url__refused_with_reason(url: str, why: str) -> None:
    # When a malformed URL is parsed / Then it is refused, saying why
    with pytest.raises(ssrf.UnsafeUrl, match=why):
        ssrf.parse(url)


def test_resolve__loopback_literal__refused_unless_allowed() -> None:
    # Given a URL naming a loopback address
    target = ssrf.parse("http://127.0.0.1:8080/hook")
    # When private addresses are not allowed / Then it is refused, naming the kind
    with pytest.raises(ssrf.UnsafeUrl, match="loopback"):
        ssrf.resolve(target, allow_private=False)
    # And when they are, it resolves to that address
    assert ssrf.resolve(target, allow_private=True) == [ipaddress.ip_address("127.0.0.1")]


def test_resolve__localhost_name__refused_without_lookup() -> None:
    with pytest.raises(ssrf.UnsafeUrl, match="loopback"):
        ssrf.resolve(ssrf.parse("https://api.localhost/"), allow_private=False)


def test_parse__defaults__port_and_path_filled() -> None:
    target = ssrf.parse("https://Hooks.Example.com?x=1")
    assert (target.host, target.port, target.path) == ("hooks.example.com", 443, "/?x=1")


def test_slack_text__policy_published__readable_line_with_diff() -> None:
    # Given a published change adding one origin
    data = {
        "api": {"slug": "billing"},
        "version": 4,
        "actor": "mia",
        "reason": "partner <launch>",
        "diff": [
            {
                "field": "origins",
                "added": [{"kind": "exact", "value": "https://a.example"}],
                "removed": [],
            }
        ],
    }
    # When it is rendered for Slack
    text = formats.slack_text("policy.published", data)
    # Then it names the API, version, actor, why (escaped) and the origin added
    assert text.splitlines() == [
        ":lock: *billing* version 4 published by mia — “partner &lt;launch&gt;”",
        "+ origins: https://a.example (exact)",
    ]
