"""policies.lint: risk rules over a policy document (pure: no database)."""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.lint import Finding, Severity, has_errors, lint_document

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# The example from design.md ("The policy document").
DESIGN_EXAMPLE: dict[str, Any] = {
    "schema": 1,
    "api": "billing",
    "version": 42,
    "updated_at": "2026-11-25T12:00:00Z",
    "mode": "enforce",
    "paths": "^/api/",
    "origins": {
        "exact": ["https://app.example.com", "http://localhost:3000"],
        "wildcard": ["https://*.example.com"],
        "regex": [r"^https://pr-[0-9]+\.preview\.example\.com$"],
        "allow_all": False,
        "allow_null": False,
    },
    "methods": ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"],
    "request_headers": ["authorization", "content-type"],
    "expose_headers": ["x-request-id"],
    "allow_credentials": True,
    "max_age": 3600,
    "allow_private_network": False,
}

# A policy with nothing to say about it, in any environment.
CLEAN: dict[str, Any] = {
    "schema": 1,
    "api": "billing",
    "version": 1,
    "updated_at": "2026-11-25T12:00:00Z",
    "mode": "enforce",
    "paths": None,
    "origins": {
        "exact": ["https://app.example.com"],
        "wildcard": [],
        "regex": [],
        "allow_all": False,
        "allow_null": False,
    },
    "methods": ["GET", "POST"],
    "request_headers": ["authorization", "content-type"],
    "expose_headers": [],
    "allow_credentials": True,
    "max_age": 600,
    "allow_private_network": False,
}


def document(**changes: Any) -> dict[str, Any]:
    """CLEAN with top-level fields replaced; `exact=`, `wildcard=`, ... replace origin fields."""
    result = copy.deepcopy(CLEAN)
    for key, value in changes.items():
        if key in ("exact", "wildcard", "regex", "allow_all", "allow_null"):
            result["origins"][key] = value
        else:
            result[key] = value
    return result


def found(findings: list[Finding]) -> set[tuple[str, Severity, str, str]]:
    """The risk findings (INFO ones, facts that ask nothing, are tested on their own)."""
    return {(f.rule, f.severity, f.field, f.value) for f in findings if f.severity != INFO}


def only(findings: list[Finding], rule: str) -> Finding:
    matching = [finding for finding in findings if finding.rule == rule]
    assert len(matching) == 1, findings
    return matching[0]


# --- a clean policy -------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["production", "staging", "development"])
def test_lint_document__clean_policy__no_findings(environment: str) -> None:
    assert lint_document(CLEAN, environment=environment) == []


def test_lint_document__design_example__credentialed_wildcard_needs_confirmation() -> None:
    # When the design's own example is linted for production
    findings = lint_document(DESIGN_EXAMPLE, environment="production")
    # Then its credentialed wildcard is a warning to confirm (a subdomain takeover would read
    # users' data, but the set-up is deliberate and common), like the rest
    assert found(findings) == {
        ("credentials-with-wildcard-subdomains", WARNING, "origins", "https://*.example.com"),
        ("local-origin-in-production", WARNING, "origins", "http://localhost:3000"),
        ("shadowed-origin", WARNING, "origins", "https://app.example.com"),
    }


# --- each rule: the finding it produces -----------------------------------------------------

CASES = [
    # Origins together with credentials
    pytest.param(
        document(allow_all=True, exact=[]),
        "development",
        ("credentials-with-wildcard-origin", ERROR, "allow_all", "true"),
        id="allow-all-with-credentials",
    ),
    pytest.param(
        document(regex=["^https://.*$"]),
        "development",
        ("origin-outside-named-domains", ERROR, "origins", "^https://.*$"),
        id="catch-all-regex-with-credentials",
    ),
    pytest.param(
        document(wildcard=["https://*.example.com"]),
        "development",
        ("credentials-with-wildcard-subdomains", WARNING, "origins", "https://*.example.com"),
        id="subdomain-wildcard-with-credentials",
    ),
    pytest.param(
        document(allow_null=True),
        "development",
        ("credentials-with-null-origin", ERROR, "allow_null", "true"),
        id="null-with-credentials",
    ),
    # Origin switches without credentials
    pytest.param(
        document(allow_null=True, allow_credentials=False),
        "development",
        ("null-origin-allowed", WARNING, "allow_null", "true"),
        id="null-without-credentials",
    ),
    pytest.param(
        document(allow_all=True, exact=[], allow_credentials=False),
        "development",
        ("allow-all-origins", WARNING, "allow_all", "true"),
        id="allow-all-without-credentials",
    ),
    pytest.param(
        document(allow_all=True, allow_credentials=False),
        "development",
        ("origins-ignored-by-allow-all", WARNING, "allow_all", "true"),
        id="origins-listed-under-allow-all",
    ),
    pytest.param(
        document(exact=[]),
        "development",
        ("no-origins", WARNING, "origins", ""),
        id="no-origins",
    ),
    # Origin rules that cannot be stored as they are
    pytest.param(
        document(exact=["example.com"]),
        "development",
        ("invalid-origin", ERROR, "origins", "example.com"),
        id="invalid-exact",
    ),
    pytest.param(
        document(exact=["https://App.Example.com:443"]),
        "development",
        ("origin-not-canonical", ERROR, "origins", "https://App.Example.com:443"),
        id="exact-not-canonical",
    ),
    pytest.param(
        document(wildcard=["https://*.co.uk"]),
        "development",
        ("wildcard-on-public-suffix", ERROR, "origins", "https://*.co.uk"),
        id="wildcard-public-suffix",
    ),
    pytest.param(
        document(wildcard=["https://*.github.io"], allow_credentials=False),
        "development",
        ("wildcard-on-public-suffix", ERROR, "origins", "https://*.github.io"),
        id="wildcard-private-suffix",
    ),
    pytest.param(
        document(regex=[r"https://app\.example\.com"]),
        "development",
        ("regex-not-anchored", ERROR, "origins", r"https://app\.example\.com"),
        id="regex-unanchored",
    ),
    pytest.param(
        document(regex=[r"^https://a\.example\.com|https://b\.example\.com$"]),
        "development",
        (
            "regex-not-anchored",
            ERROR,
            "origins",
            r"^https://a\.example\.com|https://b\.example\.com$",
        ),
        id="regex-alternation-unanchored",
    ),
    pytest.param(
        document(regex=["^(https://a$"]),
        "development",
        ("regex-invalid", ERROR, "origins", "^(https://a$"),
        id="regex-syntax",
    ),
    pytest.param(
        document(regex=[r"^https://app.example\.com$"]),
        "development",
        ("regex-unescaped-dot", ERROR, "origins", r"^https://app.example\.com$"),
        id="regex-unescaped-dot",
    ),
    pytest.param(
        document(regex=["^https?://.+$"], allow_credentials=False),
        "development",
        ("origin-outside-named-domains", ERROR, "origins", "^https?://.+$"),
        id="regex-matches-anything-without-credentials",
    ),
    pytest.param(
        document(exact=["https://a.example.com", "https://A.example.com"]),
        "development",
        ("duplicate-origin", WARNING, "origins", "https://A.example.com"),
        id="duplicate-after-canonicalisation",
    ),
    pytest.param(
        document(regex=[r"^https://a\.com$", r"^https://a\.com$"]),
        "development",
        ("duplicate-origin", WARNING, "origins", r"^https://a\.com$"),
        id="duplicate-regex",
    ),
    # Production only
    pytest.param(
        document(exact=["http://app.example.com"]),
        "production",
        ("insecure-origin-in-production", ERROR, "origins", "http://app.example.com"),
        id="http-with-credentials-in-production",
    ),
    pytest.param(
        document(exact=["http://app.example.com"], allow_credentials=False),
        "production",
        ("insecure-origin-in-production", WARNING, "origins", "http://app.example.com"),
        id="http-without-credentials-in-production",
    ),
    pytest.param(
        document(regex=[r"^https?://app\.example\.com$"], exact=[], allow_credentials=False),
        "production",
        ("insecure-origin-in-production", WARNING, "origins", r"^https?://app\.example\.com$"),
        id="http-regex-in-production",
    ),
    pytest.param(
        document(exact=["http://localhost:3000"]),
        "production",
        ("local-origin-in-production", WARNING, "origins", "http://localhost:3000"),
        id="localhost",
    ),
    pytest.param(
        document(exact=["http://127.0.0.1:8000"]),
        "production",
        ("local-origin-in-production", WARNING, "origins", "http://127.0.0.1:8000"),
        id="loopback-v4",
    ),
    pytest.param(
        document(exact=["http://[::1]:8000"]),
        "production",
        ("local-origin-in-production", WARNING, "origins", "http://[::1]:8000"),
        id="loopback-v6",
    ),
    pytest.param(
        document(exact=["https://192.168.1.20"]),
        "production",
        ("local-origin-in-production", WARNING, "origins", "https://192.168.1.20"),
        id="rfc1918",
    ),
    pytest.param(
        document(exact=["https://169.254.10.1"]),
        "production",
        ("local-origin-in-production", WARNING, "origins", "https://169.254.10.1"),
        id="link-local",
    ),
    pytest.param(
        document(exact=["https://[fd00::1]"]),
        "production",
        ("local-origin-in-production", WARNING, "origins", "https://[fd00::1]"),
        id="ula",
    ),
    pytest.param(
        document(wildcard=["http://*.localhost:3000"], allow_credentials=False),
        "production",
        ("local-origin-in-production", WARNING, "origins", "http://*.localhost:3000"),
        id="wildcard-localhost",
    ),
    # max_age
    pytest.param(
        document(max_age=7201),
        "development",
        ("max-age-above-browser-cap", WARNING, "max_age", "7201"),
        id="max-age-above-chromium",
    ),
    pytest.param(
        document(max_age=86401),
        "development",
        ("max-age-over-limit", ERROR, "max_age", "86401"),
        id="max-age-above-hard-cap",
    ),
    pytest.param(
        document(max_age=0),
        "development",
        ("max-age-zero", WARNING, "max_age", "0"),
        id="max-age-zero",
    ),
    pytest.param(
        document(max_age=-1),
        "development",
        ("invalid-field", ERROR, "max_age", "-1"),
        id="max-age-negative",
    ),
    # Lists
    pytest.param(
        document(request_headers=["*"]),
        "development",
        ("star-with-credentials", ERROR, "request_headers", "*"),
        id="star-headers-with-credentials",
    ),
    pytest.param(
        document(methods=["*"]),
        "development",
        ("star-with-credentials", ERROR, "methods", "*"),
        id="star-methods-with-credentials",
    ),
    pytest.param(
        document(expose_headers=["*"]),
        "development",
        ("star-with-credentials", ERROR, "expose_headers", "*"),
        id="star-expose-with-credentials",
    ),
    pytest.param(
        document(request_headers=["*"], allow_credentials=False),
        "development",
        ("star-does-not-cover-authorization", WARNING, "request_headers", "*"),
        id="star-headers-without-authorization",
    ),
    pytest.param(
        document(methods=["GET", "TRACE"]),
        "development",
        ("forbidden-method", ERROR, "methods", "TRACE"),
        id="trace",
    ),
    pytest.param(
        document(methods=["connect"]),
        "development",
        ("forbidden-method", ERROR, "methods", "connect"),
        id="connect-lower-case",
    ),
    pytest.param(
        document(methods=["TRACK"]),
        "development",
        ("forbidden-method", ERROR, "methods", "TRACK"),
        id="track",
    ),
    pytest.param(
        document(methods=["GET", "patch"]),
        "development",
        ("method-not-uppercase", WARNING, "methods", "patch"),
        id="patch-lower-case",
    ),
    pytest.param(
        document(methods=["Delete"]),
        "development",
        ("method-not-uppercase", WARNING, "methods", "Delete"),
        id="mixed-case",
    ),
    pytest.param(
        document(request_headers=["x-a b"]),
        "development",
        ("invalid-token", ERROR, "request_headers", "x-a b"),
        id="header-with-space",
    ),
    pytest.param(
        document(methods=["GET,POST"]),
        "development",
        ("invalid-token", ERROR, "methods", "GET,POST"),
        id="method-with-comma",
    ),
    pytest.param(
        document(expose_headers=[""]),
        "development",
        ("invalid-token", ERROR, "expose_headers", ""),
        id="empty-expose-header",
    ),
    # Other fields
    pytest.param(
        document(paths="^/api/(v1"),
        "development",
        ("paths-invalid", ERROR, "paths", "^/api/(v1"),
        id="paths-syntax",
    ),
    pytest.param(
        document(schema=2),
        "development",
        ("unsupported-schema", ERROR, "schema", "2"),
        id="schema-2",
    ),
    pytest.param(
        document(mode="audit"),
        "development",
        ("invalid-field", ERROR, "mode", "audit"),
        id="unknown-mode",
    ),
]


@pytest.mark.parametrize(("doc", "environment", "expected"), CASES)
def test_lint_document__risky_policy__named_finding(
    doc: dict[str, Any], environment: str, expected: tuple[str, Severity, str, str]
) -> None:
    # When
    findings = lint_document(doc, environment=environment)
    # Then the finding names the rule, severity, field and offending value
    assert expected in found(findings)
    finding = next(f for f in findings if (f.rule, f.severity, f.field, f.value) == expected)
    assert finding.message
    assert finding.fix
    if expected[1] is ERROR:
        assert has_errors(findings)


# --- messages and fixes people read ---------------------------------------------------------


def test_lint_document__unescaped_dot__fix_is_the_escaped_pattern() -> None:
    doc = document(regex=[r"^https://app.example\.com$"])

    finding = only(lint_document(doc, environment="development"), "regex-unescaped-dot")

    assert "after '^https://app'" in finding.message
    assert finding.fix == r"Escape it: ^https://app\.example\.com$"


def test_lint_document__unanchored_regex__message_shows_anchored_pattern() -> None:
    doc = document(regex=[r"https://app\.example\.com"])

    finding = only(lint_document(doc, environment="development"), "regex-not-anchored")

    assert finding.message.endswith(r"whole origins only: ^https://app\.example\.com$")
    assert finding.fix == "Start the pattern with ^ and end it with $."


def test_lint_document__public_suffix_wildcard__names_the_suffix() -> None:
    doc = document(wildcard=["https://*.co.uk"])

    finding = only(lint_document(doc, environment="development"), "wildcard-on-public-suffix")

    assert "every site under the public suffix 'co.uk'" in finding.message


def test_lint_document__non_canonical_origin__fix_gives_canonical_form() -> None:
    doc = document(exact=["HTTPS://App.Example.com:443/"])

    finding = only(lint_document(doc, environment="development"), "origin-not-canonical")

    assert finding.fix == "Write it as 'https://app.example.com'."


def test_lint_document__invalid_origin__message_from_validator() -> None:
    doc = document(exact=["https://example.com/app"])

    finding = only(lint_document(doc, environment="development"), "invalid-origin")

    assert finding.message == "Origins have no path: remove '/app'."


def test_lint_document__lower_case_method__fix_is_upper_case() -> None:
    doc = document(methods=["patch"])

    finding = only(lint_document(doc, environment="development"), "method-not-uppercase")

    assert finding.fix == "Write 'PATCH'."


def test_lint_document__catch_all_regex__names_an_example_origin_and_cookies() -> None:
    doc = document(regex=["^https://.*$"])

    finding = only(lint_document(doc, environment="development"), "origin-outside-named-domains")

    assert "The rule also matches https://a, on a host that it does not name" in finding.message
    assert "(it names no domain)" in finding.message
    assert "with the user's cookies" in finding.message


# --- shadowed and duplicate rules -----------------------------------------------------------


@pytest.mark.parametrize(
    ("origins", "shadowed", "cover"),
    [
        pytest.param(
            {"exact": ["https://app.example.com"], "wildcard": ["https://*.example.com"]},
            "https://app.example.com",
            "https://*.example.com",
            id="exact-under-wildcard",
        ),
        pytest.param(
            {"exact": ["https://a.b.example.com"], "wildcard": ["https://*.example.com"]},
            "https://a.b.example.com",
            "https://*.example.com",
            id="two-labels-under-wildcard",
        ),
        pytest.param(
            {
                "exact": ["https://pr-7.example.com"],
                "regex": [r"^https://pr-[0-9]+\.example\.com$"],
            },
            "https://pr-7.example.com",
            r"^https://pr-[0-9]+\.example\.com$",
            id="exact-under-regex",
        ),
        pytest.param(
            {"wildcard": ["https://*.a.example.com", "https://*.example.com"]},
            "https://*.a.example.com",
            "https://*.example.com",
            id="wildcard-under-wildcard",
        ),
        pytest.param(
            {"exact": ["http://app.example.test:8080"], "wildcard": ["http://*.example.test:8080"]},
            "http://app.example.test:8080",
            "http://*.example.test:8080",
            id="same-port",
        ),
    ],
)
def test_lint_document__covered_rule__shadowed_names_the_cover(
    origins: dict[str, list[str]], shadowed: str, cover: str
) -> None:
    doc = document(allow_credentials=False, **{"exact": [], **origins})

    finding = only(lint_document(doc, environment="development"), "shadowed-origin")

    assert (finding.severity, finding.value) == (WARNING, shadowed)
    assert finding.message == f"{shadowed} is already covered by the rule {cover}."


@pytest.mark.parametrize(
    "origins",
    [
        pytest.param(
            {"exact": ["https://example.com"], "wildcard": ["https://*.example.com"]},
            id="bare-domain-is-not-covered",
        ),
        pytest.param(
            {"exact": ["https://evilexample.com"], "wildcard": ["https://*.example.com"]},
            id="look-alike-is-not-covered",
        ),
        pytest.param(
            {"exact": ["http://app.example.com"], "wildcard": ["https://*.example.com"]},
            id="other-scheme",
        ),
        pytest.param(
            {"exact": ["https://app.example.com:8443"], "wildcard": ["https://*.example.com"]},
            id="other-port",
        ),
        pytest.param(
            {"wildcard": ["https://*.example.com", "https://*.a.example.org"]},
            id="unrelated-wildcards",
        ),
        pytest.param(
            {
                "exact": ["https://pr-x.example.com"],
                "regex": [r"^https://pr-[0-9]+\.example\.com$"],
            },
            id="regex-does-not-match",
        ),
    ],
)
def test_lint_document__uncovered_rule__not_shadowed(origins: dict[str, list[str]]) -> None:
    doc = document(allow_credentials=False, **{"exact": [], **origins})

    findings = lint_document(doc, environment="development")

    assert "shadowed-origin" not in {finding.rule for finding in findings}


def test_lint_document__duplicate__message_names_the_first_spelling() -> None:
    doc = document(exact=["https://a.example.com", "https://a.example.com:443"])

    finding = only(lint_document(doc, environment="development"), "duplicate-origin")

    assert finding.message == (
        "The exact rule 'https://a.example.com:443' is the same rule as 'https://a.example.com'."
    )


# --- what must NOT be flagged ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "environment"),
    [
        pytest.param(document(regex=[r"^https://.*\.example\.org$"]), "development", id="dot-star"),
        pytest.param(document(regex=[r"^https://[a-z.]+\.example\.org$"]), "staging", id="class"),
        pytest.param(document(regex=[r"^https://a\.example\.org(:.+)?$"]), "production", id="d+"),
        pytest.param(document(regex=[r"^https://pr-.{2}\.example\.org$"]), "staging", id="brace"),
        pytest.param(document(exact=["http://localhost:3000"]), "development", id="dev-local"),
        pytest.param(document(exact=["http://app.example.com"]), "staging", id="staging-http"),
        pytest.param(document(max_age=7200), "production", id="max-age-7200"),
        pytest.param(document(max_age=None), "production", id="max-age-absent"),
        pytest.param(document(methods=["*"], allow_credentials=False), "development", id="m*"),
        pytest.param(
            document(request_headers=["*", "authorization"], allow_credentials=False),
            "development",
            id="star-and-authorization",
        ),
        pytest.param(document(methods=["GET", "PATCH", "OPTIONS"]), "production", id="methods"),
        pytest.param(document(exact=["https://10.example.com"]), "production", id="name-10"),
    ],
)
def test_lint_document__safe_choice__no_findings(doc: dict[str, Any], environment: str) -> None:
    # (CLEAN's only origin is https://app.example.com; regexes here are about other hosts)
    assert [f for f in lint_document(doc, environment=environment) if f.severity != INFO] == []


def test_lint_document__allow_all_with_credentials__engine_never_reflects_but_lint_refuses() -> (
    None
):
    # Given the classic hole, whatever the environment
    doc = document(allow_all=True, exact=[])
    for environment in ("production", "staging", "development"):
        # Then lint refuses to publish it
        assert has_errors(lint_document(doc, environment=environment))


# --- malformed documents never crash --------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param({}, {("no-origins", WARNING, "origins", "")}, id="empty"),
        pytest.param(
            {"origins": []},
            {
                ("invalid-field", ERROR, "origins", "[]"),
                ("no-origins", WARNING, "origins", ""),
            },
            id="origins-list",
        ),
        pytest.param(
            {"origins": {"exact": "https://a.example.com"}},
            {
                ("invalid-field", ERROR, "origins", "https://a.example.com"),
                ("no-origins", WARNING, "origins", ""),
            },
            id="exact-string",
        ),
        pytest.param(
            {"origins": {"exact": ["https://a.example.com", None, 7]}},
            {
                ("invalid-field", ERROR, "origins", "None"),
                ("invalid-field", ERROR, "origins", "7"),
            },
            id="exact-items",
        ),
        pytest.param(
            {"origins": {"exact": ["https://a.example.com"], "allow_all": "false"}},
            {
                ("invalid-field", ERROR, "allow_all", "false"),
                # A careless consumer reads a non-empty string as true: assume the worst.
                ("allow-all-origins", WARNING, "allow_all", "true"),
                ("origins-ignored-by-allow-all", WARNING, "allow_all", "true"),
            },
            id="flag-as-string",
        ),
        pytest.param(
            {"origins": {"exact": ["https://a.example.com"]}, "max_age": "600"},
            {("invalid-field", ERROR, "max_age", "600")},
            id="max-age-string",
        ),
        pytest.param(
            {"origins": {"exact": ["https://a.example.com"]}, "max_age": True},
            {("invalid-field", ERROR, "max_age", "True")},
            id="max-age-bool",
        ),
        pytest.param(
            {"origins": {"exact": ["https://a.example.com"]}, "methods": "GET, POST"},
            {("invalid-field", ERROR, "methods", "GET, POST")},
            id="methods-string",
        ),
        pytest.param(
            {"origins": {"exact": ["https://a.example.com"]}, "allow_credentials": 1},
            {("invalid-field", ERROR, "allow_credentials", "1")},
            id="credentials-int",
        ),
        pytest.param(
            {"origins": {"exact": ["https://a.example.com"]}, "paths": 5},
            {("invalid-field", ERROR, "paths", "5")},
            id="paths-int",
        ),
        pytest.param(
            {"origins": {"exact": ["https://a.example.com"]}, "schema": True},
            {("unsupported-schema", ERROR, "schema", "True")},
            id="schema-bool",
        ),
    ],
)
def test_lint_document__malformed_field__invalid_field_finding(
    doc: dict[str, Any], expected: set[tuple[str, Severity, str, str]]
) -> None:
    assert found(lint_document(doc, environment="development")) == expected


def test_lint_document__invalid_field__message_names_the_nested_field() -> None:
    findings = lint_document({"origins": {"regex": [3]}}, environment="development")

    finding = next(f for f in findings if f.rule == "invalid-field")
    assert finding.message == "origins.regex must be a string, not int."


def test_lint_document__long_value__shortened_in_finding() -> None:
    findings = lint_document({"methods": "x" * 5000}, environment="development")

    assert max(len(finding.value) for finding in findings) == 200


@pytest.mark.parametrize("doc", [None, [], "policy", 42])
def test_lint_document__not_a_mapping__type_error(doc: Any) -> None:
    with pytest.raises(TypeError, match="a policy document is a mapping"):
        lint_document(doc, environment="production")


def test_lint_document__unknown_environment__value_error() -> None:
    with pytest.raises(ValueError, match="unknown environment 'prod'"):
        lint_document(CLEAN, environment="prod")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_ORIGINISH = st.sampled_from(
    [
        "https://a.example.com",
        "https://*.example.com",
        "https://*.com",
        "null",
        "*",
        "^https://.*$",
        "^(",
        "http://localhost:3000",
        "https://app.example.com/",
    ]
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "schema": _JSON,
            "mode": _JSON,
            "paths": _JSON | st.text(max_size=10),
            "origins": _JSON
            | st.fixed_dictionaries(
                {},
                optional={
                    "exact": st.lists(_ORIGINISH | _JSON, max_size=4),
                    "wildcard": st.lists(_ORIGINISH | _JSON, max_size=4),
                    "regex": st.lists(_ORIGINISH | st.text(max_size=20), max_size=4),
                    "allow_all": _JSON,
                    "allow_null": _JSON,
                },
            ),
            "methods": _JSON | st.lists(st.text(max_size=8), max_size=4),
            "request_headers": _JSON,
            "expose_headers": _JSON,
            "allow_credentials": _JSON,
            "max_age": _JSON,
        },
    ),
    st.sampled_from(["production", "staging", "development"]),
)
def test_lint_document__any_json_shape__findings_never_exceptions(
    doc: dict[str, Any], environment: str
) -> None:
    # When any JSON-shaped document is linted
    findings = lint_document(doc, environment=environment)
    # Then every finding is well formed, with a stable kebab-case rule id
    for finding in findings:
        assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)*", finding.rule)
        assert finding.severity in (ERROR, WARNING, INFO)
        assert finding.message
        assert finding.fix
        assert isinstance(finding.value, str)


# --- Finding and has_errors -----------------------------------------------------------------


def test_finding__frozen__cannot_be_changed() -> None:
    finding = Finding("no-origins", WARNING, "origins", "", "m", "f")

    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.rule = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        pytest.param([], False, id="none"),
        pytest.param([WARNING, WARNING], False, id="warnings"),
        pytest.param([WARNING, ERROR], True, id="one-error"),
        pytest.param([INFO, WARNING], False, id="info"),
    ],
)
def test_has_errors__severities__true_only_with_an_error(
    severities: list[Severity], expected: bool
) -> None:
    findings = (Finding("r", severity, "origins", "", "m", "f") for severity in severities)

    assert has_errors(findings) is expected


def test_severity__values__strings_for_json() -> None:
    assert (Severity.ERROR, Severity.WARNING, Severity.INFO) == ("error", "warning", "info")
