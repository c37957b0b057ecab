"""Lint proves that every regex and wildcard origin rule stays inside the domains it names
(issue 9 part 4): an automaton intersection, not a few probe strings.

A rule is refused (ERROR `origin-outside-named-domains`) when it can match an origin whose
registrable domain (Public Suffix List, private section included) it does not name literally,
and (ERROR `regex-uncheckable`) when it uses a construct the proof cannot analyse.
Pure tests: no database.
"""

from __future__ import annotations

from typing import Any

import pytest

from policies.cors import decide
from policies.lint import Finding, Severity, lint_document, lint_origin_regex, lower_case_regex
from policies.origins import (
    MAX_ANALYSED_REPETITION,
    Escape,
    OriginError,
    containment_escape,
    is_public_suffix,
)
from tests.unit.test_lint import document

# The three regexes from the issue, saved with no finding on a production API.
ISSUE_REFUSED = [
    r"^https://[a-z.]+$",
    r"^https://.*example\.com$",
    r"^https://app\.example\.com.*$",
]
ISSUE_ACCEPTED = [
    r"^https://pr-[0-9]+\.preview\.example\.com$",
    r"^https://([a-z0-9-]+\.)*example\.com$",
    r"^https://(app|admin)\.example\.com(:[0-9]+)?$",
]

# (pattern, an origin it matches outside the domains it names: checked with the engine)
REFUSED = [
    (ISSUE_REFUSED[0], "https://attacker.net"),
    (ISSUE_REFUSED[1], "https://evilexample.com"),
    (ISSUE_REFUSED[2], "https://app.example.com.attacker.net"),
    (r"^https://.*$", "https://attacker.net"),
    (r"^https?://.+$", "http://attacker.net"),
    (r"^https://.+\.com$", "https://attacker.com"),
    (r"^https://[a-z]+\.com$", "https://attacker.com"),
    (r"^https://example\.com.+$", "https://example.com.attacker.net"),
    (r"^https://(.*\.)?example\.com\..*$", "https://example.com.attacker.net"),
    (r"^https://[a-z0-9-]+\.example\.[a-z]+$", "https://www.example.net"),
    (r"^https://example\.(com|net|[a-z]+)$", "https://example.org"),
    (r"^https://app\.example\.co.*$", "https://app.example.co"),
    (r"^https://app\.example\.com[a-z.]*$", "https://app.example.community"),
    (r"^https://[a-z]+example\.com$", "https://evilexample.com"),
    (r"^https://[^/]+$", "https://attacker.net"),
    (r"^https://\w+\.\w+$", "https://attacker.net"),
    (r"^https://[a-z0-9-]+\.herokuapp\.com$", "https://attacker.herokuapp.com"),
    (r"^https://[a-z0-9-]+\.github\.io$", "https://attacker.github.io"),
    (r"^https://[a-z0-9-]+\.amazonaws\.com$", "https://s3.amazonaws.com"),
    (r"^https://([a-z0-9-]+\.)*s3\.amazonaws\.com$", "https://bucket.s3.amazonaws.com"),
    (r"^https://[a-z]+\.co\.uk$", "https://attacker.co.uk"),
    (r"^https://([a-z]+\.)?example\.co\.uk.*$", "https://example.co.uk.attacker.net"),
    (r"^https://(app|admin)\.example\.com$|^https://.*$", "https://attacker.net"),
    (r"^https://app\.example\.com\.?.*$", "https://app.example.com.attacker.net"),
    (r"^http://[0-9.]+(:[0-9]+)?$", "http://203.0.113.7"),
    (r"^http://\[[0-9a-f:]+\]$", "http://[2001:db8::1]"),
    (r"^http://192\.168\.[0-9]+\.[0-9]+$", "http://192.168.0.1"),
    (r"^https://[a-z]{2,}$", "https://intranet"),
    (r"^https://.*\.example\.com\.[a-z]+$", "https://a.example.com.attacker"),
    (r"^https://[a-z-]+\.example\.com-[a-z]+\.net$", "https://a.example.com-x.net"),
    (r"^https://example\.com\.[a-z]+\.net$", "https://example.com.attacker.net"),
    (r"^https://[a-z0-9-]+\.(example|evil)[a-z]*\.com$", "https://a.evilcorp.com"),
    (r"^https://[a-z0-9-]+\.blogspot\.com$", "https://attacker.blogspot.com"),
    (r"^https://foo\.[a-z]+$", "https://foo.attacker"),
    (r"^https?://(.+\.)?localhost\..+$", "https://localhost.attacker.net"),
    (r"^https?://.*localhost$", "https://attackerlocalhost"),
    # Found only by the proof: no probe list would think of a 7-letter TLD after a hyphen.
    (r"^https://app\.example\.com(\.[a-z]{7}-x)?$", "https://app.example.com.abcdefg-x"),
]

# Constructs the proof does not analyse (they read differently in RE2 and Python syntax, or
# blow up the automaton): refused with a message naming the construct.
UNCHECKABLE = [
    (r"(?i)^https://app\.example\.com$", "(?i)"),
    (r"^https://\pL+\.example\.com$", r"\p"),
    (r"^https://[[:alpha:]]+\.example\.com$", "POSIX class"),
    (r"^https://\Qapp.example.com\E$", r"\Q"),
    (rf"^https://[a-z]{{1,{MAX_ANALYSED_REPETITION + 1}}}\.example\.com$", "repetition count"),
    (r"^https://app\.example\.com\z", r"\z"),
    (r"^https://[\pL]+\.example\.com$", r"\p"),
    (r"^https://a{,3}\.example\.com$", "'{'"),
    (r"^https://(^a)\.example\.com$", "anchor ^"),
    (r"^https://\x61\.example\.com$", r"\x"),
]

ACCEPTED = [
    *ISSUE_ACCEPTED,
    r"^https://.*\.example\.com$",
    r"^https://[a-z0-9-]+\.example\.com$",
    r"^https?://localhost(:[0-9]+)?$",
    r"^http://127\.0\.0\.1:[0-9]+$",
    r"^http://\[::1\]:[0-9]{2,5}$",
    r"^https://(app\.example\.com|partner\.example\.net)$",
    r"^https://app\.example\.com$|^https://admin\.example\.org$",
    r"^https://[a-z]+\.example\.co\.uk$",
    r"^https://foo\.herokuapp\.com$",
    r"^https://(?:[a-z0-9-]+\.)?my-app\.github\.io$",
    r"^https://api-v[0-9]{1,3}\.example\.com$",
    r"^https://\w+\.example\.com$",
    r"^https://[a-z.]+\.example\.org$",
    r"^https://a\.example\.org(:.+)?$",
    r"^https://(?P<tenant>[a-z]+)\.example\.com$",
    r"^https?://[a-z0-9-]+\.app\.localhost(:[0-9]+)?$",
    r"^https://pr-[0-9]{1,6}\.preview\.example\.com$",
    r"^https://[a-z0-9-]+\.api\.amazonaws\.com$",
    r"^https://(www\.)?example\.com$",
]


def errors(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.severity is Severity.ERROR]


def test_tables__sizes__at_least_30_refused_and_15_accepted() -> None:
    assert len(REFUSED) + len(UNCHECKABLE) >= 30
    assert len(REFUSED) >= 30
    assert len(ACCEPTED) >= 15


@pytest.mark.parametrize(("pattern", "origin"), REFUSED)
@pytest.mark.parametrize("credentials", [True, False], ids=["credentials", "anonymous"])
def test_lint__regex_escapes_named_domains__error(
    pattern: str, origin: str, credentials: bool
) -> None:
    # Given a policy with the regex (in any environment, credentials or not)
    doc = document(regex=[pattern], allow_credentials=credentials)

    # When it is linted
    findings = lint_document(doc, environment="development")

    # Then it is refused as escaping its domains
    assert ("origin-outside-named-domains", "origins", pattern) in {
        (f.rule, f.field, f.value) for f in errors(findings)
    }
    # ...and rightly: the consumer's engine really lets the foreign origin in
    decision = decide(
        {**doc, "mode": "enforce", "api": "t", "version": 1},
        method="GET",
        path="/",
        headers={"Origin": origin},
    )
    assert decision.allowed is True


@pytest.mark.parametrize("pattern", ACCEPTED)
@pytest.mark.parametrize("credentials", [True, False], ids=["credentials", "anonymous"])
def test_lint__regex_inside_named_domains__no_error(pattern: str, credentials: bool) -> None:
    doc = document(regex=[pattern], allow_credentials=credentials)

    findings = lint_document(doc, environment="development")

    assert errors(findings) == []


@pytest.mark.parametrize(("pattern", "construct"), UNCHECKABLE)
def test_lint__construct_not_analysable__error_naming_it(pattern: str, construct: str) -> None:
    findings = lint_document(document(regex=[pattern]), environment="development")

    uncheckable = [f for f in errors(findings) if f.rule == "regex-uncheckable"]
    assert len(uncheckable) == 1
    assert construct in uncheckable[0].message
    assert uncheckable[0].message.startswith("The pattern cannot be checked")


@pytest.mark.parametrize("pattern", ISSUE_REFUSED)
def test_lint__issue_examples__message_names_an_outside_origin(pattern: str) -> None:
    # Given one of the issue's regexes on a credentialed production API
    doc = document(regex=[pattern])

    # When it is linted
    findings = lint_document(doc, environment="production")

    # Then the error gives a concrete origin it matches and says cookies are at stake
    (finding,) = [f for f in findings if f.rule == "origin-outside-named-domains"]
    assert finding.message.startswith("The rule also matches https://")
    assert "with the user's cookies" in finding.message
    assert "https://*.example.com" in finding.fix


def test_containment_escape__dot_star_before_domain__example_and_domain() -> None:
    escape = containment_escape(ISSUE_REFUSED[1])

    assert escape == Escape("https://aexample.com", "aexample.com", ("example.com",))


def test_containment_escape__public_suffix_below_named_domain__host_without_domain() -> None:
    # Given amazonaws.com named, but s3.amazonaws.com on the PSL (private section)
    escape = containment_escape(r"^https://[a-z0-9-]+\.amazonaws\.com$")

    # Then the escape is such a suffix itself, a host with no registrable domain
    assert escape is not None
    assert (escape.domain, escape.named) == (None, ("amazonaws.com",))
    host = escape.origin.removeprefix("https://")
    assert host.endswith(".amazonaws.com")
    assert is_public_suffix(host)


def test_containment_escape__named_domain_under_public_suffix__inside() -> None:
    # A registrable domain under a suffix that lies under another named domain still counts.
    assert containment_escape(r"^https://(x\.)?foo\.s3\.amazonaws\.com$") is None
    escape = containment_escape(
        r"^https://([a-z]+\.)?foo\.s3\.amazonaws\.com$|^https://b\.s3\.amazonaws\.com\.[a-z]+$"
    )
    assert escape is not None


def test_containment_escape__port_and_trailing_dot__same_host() -> None:
    assert containment_escape(r"^https://app\.example\.com\.?(:[0-9]+)?$") is None
    escape = containment_escape(r"^https://[a-z0-9-]+\.herokuapp\.com(:[0-9]+)?$")
    assert escape is not None
    assert escape.origin == "https://a.herokuapp.com"


def test_containment_escape__unanchored_branch__still_checked() -> None:
    # regex-not-anchored is its own error; the proof reads the pattern as the engine does.
    assert containment_escape(r"https://app\.example\.com") is None
    assert containment_escape(r"https://.*") is not None


def test_containment_escape__upper_case_only__nothing_matches_so_contained() -> None:
    assert containment_escape(r"^https://APP\.EVIL\.NET.*$") is None


def test_containment_escape__bad_construct__origin_error_code() -> None:
    with pytest.raises(OriginError) as error:
        containment_escape(r"(?i)^https://a\.example\.com$")

    assert error.value.code == "regex-uncheckable"


@pytest.mark.parametrize(
    ("wildcard", "rule"),
    [
        pytest.param("https://*.amazonaws.com", "origin-outside-named-domains", id="psl-below"),
        pytest.param("https://*.s3.amazonaws.com", "wildcard-on-public-suffix", id="psl-itself"),
        pytest.param("https://*.github.io", "wildcard-on-public-suffix", id="github-io"),
        pytest.param("https://*.co.uk", "wildcard-on-public-suffix", id="icann"),
    ],
)
def test_lint__wildcard_escapes__error(wildcard: str, rule: str) -> None:
    findings = lint_document(document(wildcard=[wildcard]), environment="development")

    assert rule in {f.rule for f in errors(findings)}


@pytest.mark.parametrize(
    "wildcard", ["https://*.example.com", "https://*.example.co.uk", "http://*.localhost:3000"]
)
def test_lint__wildcard_inside__no_error(wildcard: str) -> None:
    findings = lint_document(
        document(wildcard=[wildcard], allow_credentials=False), environment="development"
    )

    assert errors(findings) == []


def test_lint__unescaped_dot_only__one_error_not_two() -> None:
    # Given a regex whose only problem is an unescaped dot
    findings = lint_origin_regex(r"^https://app.example\.com$", credentials=True)

    # Then it is reported once, with the escaped fix (which the proof accepts)
    assert [f.rule for f in findings] == ["regex-unescaped-dot"]
    assert findings[0].fix == r"Escape it: ^https://app\.example\.com$"


def test_lint__unescaped_dot_and_escape__both_errors() -> None:
    findings = lint_origin_regex(r"^https://app.example\.com.*$", credentials=False)

    assert [f.rule for f in findings] == ["regex-unescaped-dot", "origin-outside-named-domains"]
    assert "with the user's cookies" not in findings[1].message


# --- upper case -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "fixed"),
    [
        (r"^https://APP\.example\.com$", r"^https://app\.example\.com$"),
        (r"^https://[A-Z0-9-]+\.Example\.COM$", r"^https://[a-z0-9-]+\.example\.com$"),
        (r"^HTTPS://app\.example\.com$", r"^https://app\.example\.com$"),
        (r"^https://\D\W\S+\.Example\.com$", r"^https://\D\W\S+\.example\.com$"),
    ],
)
def test_lint__upper_case_regex__warning_with_lower_case_fix(pattern: str, fixed: str) -> None:
    # Given a regex with upper-case letters (browsers send origins in lower case)
    findings = lint_document(document(regex=[pattern]), environment="development")

    # Then a warning gives the lower-case pattern, which itself lints clean
    (finding,) = [f for f in findings if f.rule == "regex-upper-case"]
    assert finding.severity is Severity.WARNING
    assert finding.fix == f"Write it in lower case: {fixed}"
    assert "never match" in finding.message
    assert lint_origin_regex(fixed, credentials=True) == []


def test_lower_case_regex__escapes__kept() -> None:
    assert lower_case_regex(r"\W\D[A-Z]\.X") == r"\W\D[a-z]\.x"


# --- the methods INFO -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("methods", "missing"),
    [
        (["GET"], "POST"),
        (["PUT"], "GET, HEAD and POST"),
        ([], "GET, HEAD and POST"),
        (["POST", "DELETE"], "GET and HEAD"),
        (["HEAD", "PATCH"], "GET and POST"),
    ],
)
def test_lint__methods_without_safelisted__info_says_they_cannot_be_stopped(
    methods: list[str], missing: str
) -> None:
    findings = lint_document(document(methods=methods), environment="production")

    (finding,) = [f for f in findings if f.rule == "methods-cannot-stop-safelisted"]
    assert finding.severity is Severity.INFO
    assert f"leaving out {missing} does not stop them" in finding.message
    assert "own authorisation" in finding.fix


@pytest.mark.parametrize(
    "methods", [["GET", "POST"], ["GET", "HEAD", "POST", "PUT"], ["*"], ["POST", "GET", "PATCH"]]
)
def test_lint__methods_with_safelisted__no_info(methods: list[str]) -> None:
    doc: dict[str, Any] = document(methods=methods, allow_credentials=False)

    findings = lint_document(doc, environment="production")

    assert "methods-cannot-stop-safelisted" not in {f.rule for f in findings}
