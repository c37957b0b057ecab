"""import_cors: the regex it suggests for a refused (unanchored) one must itself pass lint
(issue 9 part 4: it used to keep unescaped dots). No database: the suggestion is pure."""

from __future__ import annotations

import ast
import re

import pytest

from policies.lint import has_errors, lint_document, suggest_origin_regex
from policies.management.commands.import_cors import ImportProblem, match_regex_rule

SUGGESTED = re.compile(r"write the anchored form ('(?:[^'\\]|\\.)*')")
WILDCARD = re.compile(r"or a wildcard rule (\S+) \(")


def suggestion(pattern: str) -> tuple[str | None, str | None, str]:
    with pytest.raises(ImportProblem) as problem:
        match_regex_rule(pattern, "CORS_ALLOWED_ORIGIN_REGEXES[0]")
    message = str(problem.value)
    regex = SUGGESTED.search(message)
    wildcard = WILDCARD.search(message)
    return (
        ast.literal_eval(regex.group(1)) if regex else None,
        wildcard.group(1) if wildcard else None,
        message,
    )


def lints_clean(kind: str, value: str) -> bool:
    findings = lint_document({"origins": {kind: [value]}}, environment="production")
    return not has_errors(findings) and not any(f.rule == "regex-upper-case" for f in findings)


@pytest.mark.parametrize(
    ("pattern", "expected", "wildcard"),
    [
        (r"https://.*\.example\.com", r"^https://.*\.example\.com$", "https://*.example.com"),
        ("https://app.example.com", r"^https://app\.example\.com$", None),
        (r"https://\w+.example.com", r"^https://\w+\.example\.com$", None),
        ("https://App.Example.com", r"^https://app\.example\.com$", None),
        (r"^https://pr-\d+.preview.example.com", r"^https://pr-\d+\.preview\.example\.com$", None),
        (
            r"https://[a-z0-9-]+\.example\.com",
            r"^https://[a-z0-9-]+\.example\.com$",
            "https://*.example.com",
        ),
        (
            "https://a.example.com|https://b.example.org",
            r"^(?:https://a\.example\.com|https://b\.example\.org)$",
            None,
        ),
    ],
)
def test_import_cors__unanchored_regex__suggestion_passes_lint(
    pattern: str, expected: str, wildcard: str | None
) -> None:
    # Given an unanchored regex from django-cors-headers settings
    # When import_cors refuses it
    regex, hint, _ = suggestion(pattern)

    # Then its suggested regex (and wildcard, if any) lint without errors
    assert regex == expected
    assert lints_clean("regex", regex)
    assert hint == wildcard
    if hint is not None:
        assert lints_clean("wildcard", hint)


@pytest.mark.parametrize(
    "pattern",
    [
        r"https://.*example\.com",
        r"https://[a-z]+.herokuapp.com",
        "https://app.example.com.*",
        r"https://[a-z.]+",
    ],
)
def test_import_cors__no_contained_form__no_regex_suggested(pattern: str) -> None:
    # Given an unanchored regex that escapes its domains even when anchored
    regex, hint, message = suggestion(pattern)

    # Then nothing is suggested that lint would refuse: it asks for the origins instead
    assert regex is None
    assert hint is None
    assert "matches origins on domains it does not name" in message
    assert "list the origins you meant" in message


def test_import_cors__wildcard_on_psl_below__not_hinted() -> None:
    # *.amazonaws.com would match hosts under s3.amazonaws.com: not a clean hint
    regex, hint, _ = suggestion(r"https://[a-z0-9-]+\.amazonaws\.com")

    assert regex is None
    assert hint is None


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"^https://app\.example\.com$", r"^https://app\.example\.com$"),
        ("^https://APP.example.com$", r"^https://app\.example\.com$"),
        (r"^https://.*example\.com$", None),
        ("^(https://a$", None),
        (r"https://a\.example\.com", None),
    ],
)
def test_suggest_origin_regex__pattern__clean_rewrite_or_none(
    pattern: str, expected: str | None
) -> None:
    assert suggest_origin_regex(pattern) == expected
