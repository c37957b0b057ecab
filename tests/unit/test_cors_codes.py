"""Decision.code: the stable, machine-readable outcome beside the human reason (issue 9 part 5).

Pure tests: no database, no Django.
"""

from __future__ import annotations

from typing import Any

import pytest

from policies.cors import Code, Decision, decide, decide_without_policy
from tests.unit.test_cors_rules import APP, VARY_PREFLIGHT, policy, request


def test_code__values__exactly_the_published_contract() -> None:
    # Given the codes other modules (consumers, dashboard, telemetry) count by
    # When they are listed
    values = {code.value for code in Code}

    # Then they are exactly these strings, and each is a str
    assert values == {
        "allowed",
        "not-cors",
        "outside-paths",
        "mode-off",
        "no-policy",
        "origin-not-allowed",
        "method-not-allowed",
        "header-not-allowed",
        "private-network-not-allowed",
    }
    assert all(isinstance(code, str) for code in Code)
    assert Code.ORIGIN_NOT_ALLOWED == "origin-not-allowed"


CODE_ROWS = [
    pytest.param({"origin": APP}, {}, Code.ALLOWED, id="allowed-actual"),
    pytest.param(
        {"origin": APP, "method": "OPTIONS", "acrm": "PATCH"},
        {},
        Code.ALLOWED,
        id="allowed-preflight",
    ),
    pytest.param({}, {}, Code.NOT_CORS, id="no-origin"),
    pytest.param({}, {"origins": {"allow_all": True}}, Code.NOT_CORS, id="no-origin-allow-all"),
    pytest.param(
        {"origin": "https://x.test"},
        {"origins": {"allow_all": True}},
        Code.ALLOWED,
        id="allow-all-actual",
    ),
    pytest.param({"origin": APP, "path": "/health"}, {}, Code.OUTSIDE_PATHS, id="outside-paths"),
    pytest.param({"origin": APP}, {"mode": "off"}, Code.MODE_OFF, id="mode-off"),
    pytest.param(
        {"origin": APP, "path": "/health"},
        {"mode": "off"},
        Code.MODE_OFF,
        id="mode-off-before-paths",
    ),
    pytest.param(
        {"origin": "https://evil.example"}, {}, Code.ORIGIN_NOT_ALLOWED, id="origin-actual"
    ),
    pytest.param({"origin": "null"}, {}, Code.ORIGIN_NOT_ALLOWED, id="null-origin"),
    pytest.param(
        {"origin": "HTTPS://APP.EXAMPLE.COM"}, {}, Code.ORIGIN_NOT_ALLOWED, id="malformed-origin"
    ),
    pytest.param(
        {"origin": "https://" + "a" * 600 + ".com"},
        {},
        Code.ORIGIN_NOT_ALLOWED,
        id="over-long-origin",
    ),
    pytest.param(
        {"origin": "https://evil.example", "method": "OPTIONS", "acrm": "PATCH"},
        {},
        Code.ORIGIN_NOT_ALLOWED,
        id="origin-preflight",
    ),
    pytest.param(
        {"origin": APP, "method": "OPTIONS", "acrm": "PUT"},
        {},
        Code.METHOD_NOT_ALLOWED,
        id="method",
    ),
    pytest.param(
        {"origin": APP, "method": "OPTIONS", "acrm": "patch"},
        {},
        Code.METHOD_NOT_ALLOWED,
        id="method-case",
    ),
    pytest.param(
        {"origin": APP, "method": "OPTIONS", "acrm": "PATCH", "acrh": "x-secret"},
        {},
        Code.HEADER_NOT_ALLOWED,
        id="header",
    ),
    pytest.param(
        {"origin": APP, "method": "OPTIONS", "acrm": "PATCH", "pna": "true"},
        {},
        Code.PRIVATE_NETWORK_NOT_ALLOWED,
        id="private-network",
    ),
]


@pytest.mark.parametrize(("kwargs", "changes", "code"), CODE_ROWS)
@pytest.mark.parametrize("mode", ["enforce", "report-only"])
def test_decide__outcome__stable_code_in_enforce_and_report_only(
    kwargs: dict[str, Any], changes: dict[str, Any], code: Code, mode: str
) -> None:
    # Given a policy (in enforce or report-only mode unless the row says off)
    changes = {"mode": mode, **changes}

    # When a request is decided
    decision = request(**kwargs, **changes)

    # Then the code names the outcome, and report-only carries what enforce would do
    assert decision.code == code
    assert decision.allowed is (
        code in {Code.ALLOWED, Code.NOT_CORS, Code.OUTSIDE_PATHS, Code.MODE_OFF}
    )


def test_decide_without_policy__cross_origin_request__refused_no_cors_headers() -> None:
    # Given a consumer with no policy document yet
    # When a cross-origin GET arrives
    decision = decide_without_policy(
        method="GET", path="/api/items", headers={"Origin": APP, "Accept": "*/*"}
    )

    # Then it is refused with no CORS headers, code no-policy, an engine-made reason
    assert decision == Decision(
        allowed=False,
        preflight=False,
        headers={"Vary": "Origin"},
        reason=decision.reason,
        status=None,
        applies=True,
        origin=APP,
        mode="enforce",
        code=Code.NO_POLICY,
    )
    assert "no policy document" in decision.reason
    assert "/api/items" in decision.reason


def test_decide_without_policy__preflight__403_preflight_vary() -> None:
    # Given no policy document
    # When a preflight arrives (header names in any case)
    decision = decide_without_policy(
        method="OPTIONS",
        path="/api/items",
        headers={"origin": APP, "ACCESS-CONTROL-REQUEST-METHOD": "PUT"},
    )

    # Then it is a refused preflight: 403, only Vary
    assert (decision.allowed, decision.preflight, decision.status) == (False, True, 403)
    assert decision.headers == {"Vary": VARY_PREFLIGHT}
    assert decision.code == Code.NO_POLICY


def test_decide_without_policy__no_origin__passes_with_code_no_policy() -> None:
    # Given no policy document
    # When a request without Origin arrives (not CORS: nothing to refuse)
    decision = decide_without_policy(method="OPTIONS", path="/", headers={})

    # Then it passes with only Vary, still coded no-policy
    assert (decision.allowed, decision.preflight, decision.status) == (True, False, None)
    assert decision.headers == {"Vary": "Origin"}
    assert decision.code == "no-policy"
    assert decision.origin is None


def test_decision__reworded_reason__code_unchanged() -> None:
    # Given two policies that differ only in api name and version (so in reason text)
    first = decide(policy(), method="GET", path="/api/x", headers={"Origin": "https://e.test"})
    second = decide(
        policy(api="other", version=7),
        method="GET",
        path="/api/x",
        headers={"Origin": "https://e.test"},
    )

    # Then the reasons differ but the code does not
    assert first.reason != second.reason
    assert first.code == second.code == Code.ORIGIN_NOT_ALLOWED
