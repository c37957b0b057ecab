"""The dashboard simulator (pure: the engine plus the browser's Fetch checks): it shows each
step's code beside its reason, and says plainly that methods cannot stop GET, HEAD, POST."""

from __future__ import annotations

from typing import Any

import pytest

from policies.cors import Code
from policies.dashboard.simulate import simulate
from tests.unit.test_cors_rules import policy

APP = "https://app.example.com"


def run(document: dict[str, Any], **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "origin": APP,
        "method": "GET",
        "path": "/api/x",
        "request_headers": "",
        "credentials": "omit",
    }
    options.update(kwargs)
    return simulate(document, **options)


def test_simulate__json_post_on_get_only_policy__allowed_and_explained() -> None:
    # Given a GET-only policy allowing content-type
    document = policy(methods=["GET"], request_headers=["content-type"], allow_credentials=False)

    # When a page POSTs JSON (content-type: a preflight)
    result = run(document, method="POST", request_headers="Content-Type")

    # Then the preflight passes, the request is readable, and the note says why
    assert result.allowed is True
    assert [step.decision.code for step in result.steps] == [Code.ALLOWED, Code.ALLOWED]
    assert result.steps[0].decision.status == 200
    (note,) = result.notes
    assert "POST is not in this policy's methods" in note
    assert "a methods list cannot stop GET, HEAD or POST" in note
    assert "the service's own authorisation must" in note


def test_simulate__head_with_custom_header__allowed() -> None:
    document = policy(methods=["GET", "PUT"], request_headers=["x-trace"], allow_credentials=False)

    result = run(document, method="HEAD", request_headers="X-Trace")

    assert result.allowed is True
    assert result.steps[0].decision.headers["Access-Control-Allow-Methods"] == "GET, PUT"
    assert any("HEAD is not in this policy's methods" in note for note in result.notes)


@pytest.mark.parametrize("methods", [["GET", "POST"], ["*"]])
def test_simulate__method_listed__no_methods_note(methods: list[str]) -> None:
    result = run(policy(methods=methods, allow_credentials=False), method="POST")

    assert result.notes == []


def test_simulate__refused_method__blocked_with_code() -> None:
    result = run(policy(methods=["GET"]), method="DELETE")

    assert result.allowed is False
    assert result.steps[0].decision.code == Code.METHOD_NOT_ALLOWED
    assert result.verdict.startswith("Blocked at the preflight")


@pytest.mark.parametrize(
    ("changes", "path", "code", "why"),
    [
        ({"mode": "off"}, "/api/x", Code.MODE_OFF, "the policy is off"),
        ({}, "/health", Code.OUTSIDE_PATHS, "outside the policy's paths"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_simulate__policy_not_applied__code_and_plain_reason(
    changes: dict[str, Any], path: str, code: Code, why: str, method: str
) -> None:
    result = run(policy(**changes), path=path, method=method)

    assert result.allowed is False
    assert result.steps[-1].decision.code == code
    assert why in result.steps[-1].browser_reason


def test_simulate__report_only__note_says_codes_are_enforce() -> None:
    result = run(policy(mode="report-only"), origin="https://evil.example")

    assert result.steps[0].decision.code == Code.ORIGIN_NOT_ALLOWED
    assert any("what enforce mode would do" in note for note in result.notes)


def test_simulation_template__step__shows_code_beside_reason() -> None:
    from django.template.loader import render_to_string

    # Given a simulated refused request
    result = run(policy(), origin="https://evil.example")

    # When the dashboard renders it
    html = render_to_string("dashboard/_simulation.html", {"simulation": result})

    # Then the code is shown next to the engine's reason
    assert '<code class="sim-code">origin-not-allowed</code> origin https://evil.example' in html
