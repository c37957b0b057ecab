"""The plan's pure logic: what widens access, how many approvals, re-basing a change."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from policies import planning

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
KNOWN = ("production", "staging", "development")


def rule(value: str, kind: str = "exact", **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "value": value, "note": "", "enabled": True, "expires_at": None, **extra}


def state(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "slug": "billing",
        "team": "payments",
        "name": "Billing",
        "description": "",
        "environment": "production",
        "mode": "enforce",
        "paths": "^/api/",
        "methods": ["GET", "POST"],
        "request_headers": ["content-type"],
        "expose_headers": [],
        "allow_credentials": False,
        "max_age": 600,
        "allow_private_network": False,
        "allow_null": False,
        "allow_all": False,
        "origins": [rule("https://app.example.com")],
    }
    base.update(changes)
    return base


WIDENING = [
    pytest.param(
        {"origins": [rule("https://app.example.com"), rule("https://b.example.com")]},
        "exact origin https://b.example.com allowed",
        id="origin-added",
    ),
    pytest.param(
        {"origins": [rule("https://app.example.com"), rule("https://*.example.com", "wildcard")]},
        "wildcard origin https://*.example.com allowed",
        id="broader-pattern",
    ),
    pytest.param({"allow_credentials": True}, "credentials allowed", id="credentials-on"),
    pytest.param({"allow_all": True}, "every origin allowed (allow-all)", id="allow-all"),
    pytest.param({"allow_null": True}, "the origin null allowed", id="null"),
    pytest.param(
        {"allow_private_network": True}, "private network access allowed", id="private-network"
    ),
    pytest.param({"methods": ["GET", "POST", "DELETE"]}, "method DELETE added", id="method"),
    pytest.param(
        {"request_headers": ["content-type", "x-api-key"]},
        "request header x-api-key added",
        id="request-header",
    ),
    pytest.param(
        {"expose_headers": ["x-total"]}, "exposed header x-total added", id="exposed-header"
    ),
    pytest.param({"paths": ""}, "paths now cover every path", id="paths-every-path"),
    pytest.param({"paths": "^/"}, "paths changed from ^/api/ to ^/", id="paths-other-regex"),
    pytest.param({"mode": "off"}, "mode changed from enforce to off", id="mode-off"),
    pytest.param(
        {"mode": "report-only"}, "mode changed from enforce to report-only", id="mode-report"
    ),
    pytest.param(
        {"environment": "staging"},
        "environment changed from production to staging",
        id="environment-left",
    ),
]


@pytest.mark.parametrize(("changes", "reason"), WIDENING)
def test_widening_reasons__widening_change__named(changes: dict[str, Any], reason: str) -> None:
    # Given a policy and a change that lets browsers do more
    before = state()
    # When it is planned
    reasons = planning.widening_reasons(before, state(**changes), now=NOW)
    # Then the plan names exactly that widening
    assert reasons == [reason]


NARROWING = [
    pytest.param({"origins": []}, id="origin-removed"),
    pytest.param({"origins": [rule("https://app.example.com", enabled=False)]}, id="disabled"),
    pytest.param(
        {"origins": [rule("https://app.example.com", expires_at="2026-12-01T00:00:00Z")]},
        id="expiry-added",
    ),
    pytest.param({"methods": ["GET"]}, id="method-removed"),
    pytest.param({"request_headers": []}, id="header-removed"),
    pytest.param({"max_age": 60}, id="max-age"),
    pytest.param({"name": "Billing v2", "description": "money"}, id="labels"),
    pytest.param({"mode": "enforce"}, id="same-mode"),
]


@pytest.mark.parametrize("changes", NARROWING)
def test_widening_reasons__narrowing_or_neutral_change__none(changes: dict[str, Any]) -> None:
    # Given a policy, When a change removes or keeps access, Then it does not widen
    assert planning.widening_reasons(state(), state(**changes), now=NOW) == []


def test_widening_reasons__disabled_rule_enabled__re_enabled_counts() -> None:
    # Given a disabled rule
    before = state(origins=[rule("https://app.example.com", enabled=False)])
    # When it is enabled again, Then that widens
    assert planning.widening_reasons(before, state(), now=NOW) == [
        "exact origin https://app.example.com allowed"
    ]


def test_widening_reasons__expiry_extended__counts_and_expired_rule_is_new() -> None:
    soon = rule("https://app.example.com", expires_at="2026-11-30T00:00:00Z")
    later = rule("https://app.example.com", expires_at="2026-12-30T00:00:00Z")
    gone = rule("https://app.example.com", expires_at="2026-11-01T00:00:00Z")
    # A later expiry and no expiry at all allow the origin for longer
    assert planning.widening_reasons(state(origins=[soon]), state(origins=[later]), now=NOW)
    assert planning.widening_reasons(state(origins=[soon]), state(), now=NOW)
    # An expired rule no longer applies: giving it a future expiry allows it again
    assert planning.widening_reasons(state(origins=[gone]), state(origins=[soon]), now=NOW) == [
        "exact origin https://app.example.com allowed"
    ]


def test_widening_reasons__every_path_to_regex__narrows() -> None:
    assert planning.widening_reasons(state(paths=""), state(paths="^/api/"), now=NOW) == []


def test_parse_approvals__valid_and_invalid__mapping_or_error() -> None:
    assert planning.parse_approvals("production=2, staging=0", known=KNOWN) == {
        "production": 2,
        "staging": 0,
    }
    assert planning.parse_approvals("", known=KNOWN) == {}
    for bad in ("prod=1", "production", "production=x", "production=11"):
        with pytest.raises(planning.ApprovalsConfigError):
            planning.parse_approvals(bad, known=KNOWN)


def test_approvals_needed__leaving_or_entering_production__stricter_counts() -> None:
    config = {"production": 1}
    staging = state(environment="staging")
    assert planning.approvals_needed(staging, staging, config) == 0
    assert planning.approvals_needed(state(), staging, config) == 1
    assert planning.approvals_needed(staging, state(), config) == 1


def test_rebase__other_change_meanwhile__both_kept() -> None:
    # Given a change request adding origin b and DELETE, planned on `base`
    base = state()
    proposed = state(
        origins=[rule("https://app.example.com"), rule("https://b.example.com")],
        methods=["DELETE", "GET", "POST"],
    )
    # And meanwhile someone removed POST, added origin c and changed max-age
    current = state(
        origins=[rule("https://app.example.com"), rule("https://c.example.com")],
        methods=["GET"],
        max_age=60,
    )
    frozen = copy.deepcopy((base, proposed, current))
    # When the request is re-based on the current state
    result = planning.rebase(base, proposed, current)
    # Then it carries both changes, and nothing it did not touch is reverted
    assert [r["value"] for r in result["origins"]] == [
        "https://app.example.com",
        "https://b.example.com",
        "https://c.example.com",
    ]
    assert result["methods"] == ["DELETE", "GET"]
    assert result["max_age"] == 60
    # And the inputs are unchanged
    assert (base, proposed, current) == frozen


def test_rebase__edited_rule_removed_meanwhile__stays_removed() -> None:
    base = state()
    proposed = state(origins=[rule("https://app.example.com", note="partner")])
    current = state(origins=[])
    assert planning.rebase(base, proposed, current)["origins"] == []


def test_rebase__removal_and_scalar_change__applied_to_current() -> None:
    base = state()
    proposed = state(origins=[], allow_credentials=True)
    current = state(origins=[rule("https://app.example.com"), rule("https://d.example.com")])
    result = planning.rebase(base, proposed, current)
    assert [r["value"] for r in result["origins"]] == ["https://d.example.com"]
    assert result["allow_credentials"] is True


def test_widening_reasons__environment_with_approvals__only_leaving_the_stricter_counts() -> None:
    config = {"production": 1}
    staging = state(environment="staging")
    # Into production: not widening; out of it: widening
    assert planning.widening_reasons(staging, state(), now=NOW, approvals=config) == []
    assert planning.widening_reasons(state(), staging, now=NOW, approvals=config) == [
        "environment changed from production to staging"
    ]


def test_system_check__malformed_approvals__error(settings: Any) -> None:
    from policies.checks import check_security

    # Given a typo in the environment name
    settings.CORSADMIN_APPROVALS = "prod=1"
    # When Django's checks run, Then one error names the setting
    ids = [message.id for message in check_security(None)]
    assert "corsadmin.E011" in ids
    settings.CORSADMIN_APPROVALS = "production=2"
    assert "corsadmin.E011" not in [message.id for message in check_security(None)]
