"""Issue 9 parts 1 and 2: safelisted methods always pass a preflight's method check, and
``max_age`` is sent exactly as written (0 included). Every value in the issue is a row here.

Pure tests: no database, no Django.
"""

from __future__ import annotations

from typing import Any

import pytest

from policies.cors import SAFELISTED_METHODS, Code, compile_policy, decide
from tests.unit.test_cors_rules import APP, VARY_PREFLIGHT, policy, preflight


def test_safelisted_methods__fetch_standard__get_head_post_only() -> None:
    assert frozenset({"GET", "HEAD", "POST"}) == SAFELISTED_METHODS


def test_preflight__head_with_content_type_on_get_put_policy__200_with_policy_methods() -> None:
    # Given the policy: methods GET and PUT, allowed header content-type
    changes: dict[str, Any] = {
        "methods": ["GET", "PUT"],
        "request_headers": ["content-type"],
        "allow_credentials": False,
    }

    # When a preflight asks for HEAD with content-type
    decision = preflight(acrm="HEAD", acrh="content-type", **changes)

    # Then it is allowed: ACAO, ACAH, and the policy's own methods (not HEAD added)
    assert (decision.status, decision.allowed, decision.code) == (200, True, Code.ALLOWED)
    assert decision.headers == {
        "Access-Control-Allow-Origin": APP,
        "Access-Control-Allow-Methods": "GET, PUT",
        "Access-Control-Allow-Headers": "content-type",
        "Access-Control-Max-Age": "3600",
        "Vary": VARY_PREFLIGHT,
    }


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize(
    "methods", [["GET"], ["PUT"], [], ["DELETE", "PATCH"]], ids=["get", "put", "none", "others"]
)
@pytest.mark.parametrize("credentials", [True, False])
def test_preflight__safelisted_method_not_listed__allowed(
    method: str, methods: list[str], credentials: bool
) -> None:
    # Given a policy whose methods lack the safelisted method
    # When a preflight asks for it (a JSON POST, or a GET/HEAD with a custom header)
    decision = preflight(
        acrm=method, acrh="content-type", methods=methods, allow_credentials=credentials
    )

    # Then it passes, and ACAM still lists only the policy's methods (absent when none)
    assert decision.status == 200
    assert decision.code == Code.ALLOWED
    if methods:
        assert decision.headers["Access-Control-Allow-Methods"] == ", ".join(methods)
    else:
        assert "Access-Control-Allow-Methods" not in decision.headers
    assert ("Access-Control-Allow-Credentials" in decision.headers) is credentials


def test_preflight__json_post_on_get_only_policy__allowed() -> None:
    # Given a GET-only policy (the browser test's policy)
    # When a page fetch()es a JSON POST: the browser preflights POST + content-type
    decision = preflight(acrm="POST", acrh="content-type", methods=["GET"])

    # Then the preflight is answered
    assert decision.allowed is True
    assert decision.headers["Access-Control-Allow-Origin"] == APP
    assert "Access-Control-Allow-Headers" in decision.headers


@pytest.mark.parametrize(
    ("acrm", "methods", "status", "code"),
    [
        # cors-rules 13/20: matching stays case-sensitive for everything else.
        pytest.param("PATCH", ["PATCH"], 200, Code.ALLOWED, id="PATCH-listed"),
        pytest.param("patch", ["PATCH"], 403, Code.METHOD_NOT_ALLOWED, id="patch-vs-PATCH"),
        pytest.param("PATCH", ["patch"], 403, Code.METHOD_NOT_ALLOWED, id="PATCH-vs-patch"),
        pytest.param("patch", ["patch"], 200, Code.ALLOWED, id="patch-listed"),
        pytest.param("PUT", ["GET"], 403, Code.METHOD_NOT_ALLOWED, id="PUT-not-listed"),
        pytest.param("DELETE", [], 403, Code.METHOD_NOT_ALLOWED, id="DELETE-nothing-listed"),
        # Browsers upper-case get/head/post before sending, so a lower-case one is not a
        # browser's safelisted method: matched case-sensitively like any other.
        pytest.param("get", ["PUT"], 403, Code.METHOD_NOT_ALLOWED, id="lower-get-not-safelisted"),
        pytest.param("Post", ["PUT"], 403, Code.METHOD_NOT_ALLOWED, id="mixed-post"),
        pytest.param("", ["GET"], 403, Code.METHOD_NOT_ALLOWED, id="empty"),
    ],
)
def test_preflight__method_case__rules_13_and_20_hold(
    acrm: str, methods: list[str], status: int, code: Code
) -> None:
    decision = preflight(acrm=acrm, methods=methods)

    assert (decision.status, decision.code) == (status, code)


def test_reason__lower_case_safelisted_method__hints_at_upper_case() -> None:
    # Given a policy listing PUT only, When a preflight sends "get"
    reason = preflight(acrm="get", methods=["PUT"]).reason

    # Then the reason says methods are case-sensitive and names GET
    assert "case-sensitive" in reason
    assert "send GET" in reason


def test_preflight__safelisted_method_refused_origin__still_refused() -> None:
    # The method exception never widens the origin check.
    decision = preflight("https://evil.example", acrm="GET", methods=[])

    assert (decision.status, decision.code) == (403, Code.ORIGIN_NOT_ALLOWED)
    assert decision.headers == {"Vary": VARY_PREFLIGHT}


def test_preflight__safelisted_method_header_not_allowed__still_refused() -> None:
    decision = preflight(acrm="POST", acrh="x-secret", methods=["GET"])

    assert (decision.status, decision.code) == (403, Code.HEADER_NOT_ALLOWED)


# --- part 2: max_age ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_age", "header"),
    [
        pytest.param(0, "0", id="zero-sent-do-not-cache"),
        pytest.param(1, "1", id="one"),
        pytest.param(600, "600", id="ten-minutes"),
        pytest.param(7200, "7200", id="chromium-cap"),
        pytest.param(7201, "7201", id="above-chromium-cap-browser-clamps"),
        pytest.param(86400, "86400", id="firefox-cap-hard-cap"),
        pytest.param(86401, "86401", id="above-hard-cap-lint-refuses-engine-sends"),
        pytest.param(None, None, id="null-no-header"),
    ],
)
def test_preflight__max_age__sent_as_written(max_age: int | None, header: str | None) -> None:
    # Given a policy with this max_age
    # When a preflight is allowed
    decision = preflight(max_age=max_age)

    # Then Access-Control-Max-Age is exactly the value (absent for null)
    assert decision.status == 200
    assert decision.headers.get("Access-Control-Max-Age") == header


def test_preflight__max_age_absent__no_header() -> None:
    # Given a document without the max_age field
    document = policy()
    del document["max_age"]

    # When a preflight is allowed
    decision = decide(
        document,
        method="OPTIONS",
        path="/api/x",
        headers={"Origin": APP, "Access-Control-Request-Method": "GET"},
    )

    # Then no Access-Control-Max-Age: browsers use their default (5 s)
    assert decision.status == 200
    assert "Access-Control-Max-Age" not in decision.headers


@pytest.mark.parametrize("max_age", [0, 600])
def test_actual_request__max_age__never_on_actual_responses(max_age: int) -> None:
    decision = decide(policy(max_age=max_age), method="GET", path="/api/x", headers={"Origin": APP})

    assert "Access-Control-Max-Age" not in decision.headers


def test_compile__max_age_zero_and_absent__both_compile() -> None:
    document = policy()
    del document["max_age"]

    assert compile_policy(document).mode == "enforce"
    assert compile_policy(policy(max_age=0)).mode == "enforce"


@pytest.mark.parametrize(
    ("max_age", "header", "lint_rule"),
    [
        pytest.param(None, None, None, id="absent"),
        pytest.param(0, "0", "max-age-zero", id="zero"),
        pytest.param(1, "1", None, id="one"),
        pytest.param(7200, "7200", None, id="chromium-cap"),
        pytest.param(7201, "7201", "max-age-above-browser-cap", id="above-chromium-cap"),
        pytest.param(86400, "86400", "max-age-above-browser-cap", id="hard-cap"),
        pytest.param(86401, "86401", "max-age-over-limit", id="above-hard-cap"),
    ],
)
def test_max_age__engine_header_and_lint__agree(
    max_age: int | None, header: str | None, lint_rule: str | None
) -> None:
    from policies.lint import lint_document

    # Given a policy with this max_age
    document = policy(max_age=max_age)

    # When a preflight is answered and the document linted
    sent = preflight(max_age=max_age).headers.get("Access-Control-Max-Age")
    rules = {f.rule for f in lint_document(document, environment="production") if "max" in f.rule}

    # Then the header is the value as written, and lint's words match what is sent
    assert sent == header
    assert rules == ({lint_rule} if lint_rule else set())
    if lint_rule == "max-age-zero":
        (finding,) = [
            f for f in lint_document(document, environment="production") if f.rule == lint_rule
        ]
        assert "a preflight before every request" in finding.message
