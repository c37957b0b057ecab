"""Edge behaviour of the pure core (cors.py, origins.py, lint.py) that the rule tables do not
reach: bounded memos, error texts, malformed mappings, construct refusals. Each test asserts
what a caller sees; together they hold the core at 100% branch coverage (./test enforces it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import re2

from policies import cors
from policies.cors import DocumentError, compile_policy, re2_error_text
from policies.lint import lint_document
from policies.origins import (
    OriginError,
    canonical_origin,
    canonical_wildcard,
    containment_escape,
    is_public_suffix,
    scan_regex,
    validate_regex,
)
from tests.unit.test_cors_rules import policy

# --- cors.py ------------------------------------------------------------------------------------


def test_compiled_policy__repr__names_api_version_and_mode() -> None:
    assert repr(compile_policy(policy(mode="report-only"))) == (
        "<CompiledPolicy billing v42 report-only>"
    )


def test_covers_path__more_paths_than_the_memo_holds__same_answers_memo_bounded() -> None:
    # Given a compiled policy and more distinct paths than its memo keeps
    compiled = compile_policy(policy())
    paths = [f"/api/{index}" if index % 2 else f"/other/{index}" for index in range(2100)]

    # When each is asked twice
    first = [compiled.covers_path(path) for path in paths]
    second = [compiled.covers_path(path) for path in paths]

    # Then the answers are stable and the memo never grows past its bound
    assert first == second == [index % 2 == 1 for index in range(2100)]
    assert len(compiled._path_memo._data) <= cors._MEMO_SIZE


def test_covers_path__very_long_path__answered_not_memoised() -> None:
    compiled = compile_policy(policy())
    path = "/api/" + "x" * 300

    assert compiled.covers_path(path) is compiled.covers_path(path) is True
    assert path not in compiled._path_memo._data


def test_decide__very_long_wildcard_origin__allowed_not_memoised() -> None:
    compiled = compile_policy(policy())
    origin = "https://" + "a." * 150 + "tenant.example.org"

    decision = compiled.decide("GET", "/api/x", {"Origin": origin})

    assert decision.allowed is True
    assert origin not in compiled._origin_memo._data


class _LyingMapping(Mapping[str, Any]):
    """A mapping that says it has every key but cannot produce `mode` (e.g. a broken proxy)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        if key == "mode":
            raise KeyError(key)
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_compile_policy__mapping_raising_key_error__document_error() -> None:
    with pytest.raises(DocumentError, match="malformed policy document: 'mode'"):
        compile_policy(_LyingMapping(policy()))


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (re2.error(b"missing ): (a"), "missing ): (a"),
        (re2.error("text message"), "text message"),
        (re2.error(), ""),
    ],
)
def test_re2_error_text__bytes_text_or_nothing__text(error: Exception, text: str) -> None:
    assert re2_error_text(error) == text


# --- origins.py ---------------------------------------------------------------------------------


def test_canonical_wildcard__host_over_253__refused() -> None:
    # (the base alone fits in 253 characters; with "*." the host would not)
    base = ".".join(["a" * 61] * 4) + ".co.uk"
    assert len(base) == 253

    with pytest.raises(OriginError, match="the host name is 255 characters long; the limit is 253"):
        canonical_wildcard(f"https://*.{base}")


def test_validate_regex__not_text__regex_invalid() -> None:
    with pytest.raises(OriginError) as error:
        validate_regex(42)  # type: ignore[arg-type]

    assert error.value.code == "regex-invalid"
    assert error.value.message == "a pattern must be text, not int"


def test_validate_regex__lone_surrogate__not_valid_text() -> None:
    with pytest.raises(OriginError, match="not valid text"):
        validate_regex("^https://\ud800$")


@pytest.mark.parametrize("host", ["ä" * 70 + ".com", "a..ä", "ä\u200d.com"])
def test_is_public_suffix__invalid_international_name__false(host: str) -> None:
    assert is_public_suffix(host) is False


def test_canonical_origin__idna_disallowed_character__says_so() -> None:
    with pytest.raises(OriginError, match="is not a valid international domain name"):
        canonical_origin("https://ex\uff3fample.com")


def test_scan_regex__unterminated_class__rest_is_the_class() -> None:
    assert list(scan_regex("^a[bc")) == [(0, "^"), (1, "a")]


def test_containment_escape__syntax_the_parser_refuses__uncheckable() -> None:
    # RE2 accepts a repeated empty anchor ("^*"); the automaton parser does not.
    with pytest.raises(OriginError) as error:
        containment_escape(r"^*https://app\.example\.com$")

    assert error.value.code == "regex-uncheckable"
    assert "its syntax" in error.value.message


def test_containment_escape__no_literal_host__escapes() -> None:
    escape = containment_escape(r"^[a-z]+://[a-z]+$")

    assert escape is not None
    assert escape.named == ()


def test_containment_escape__label_ending_in_a_suffix_name__inside() -> None:
    # xs3.amazonaws.com is on amazonaws.com (not under the public suffix s3.amazonaws.com)
    assert containment_escape(r"^https://[a-z]+s3\.amazonaws\.com$") is None


def test_containment_escape__escaped_class_members__analysed() -> None:
    assert containment_escape(r"^https://[\w.\-]+\.example\.com$") is None
    assert containment_escape(r"^https://[\w.\-]+$") is not None


# --- lint.py ------------------------------------------------------------------------------------


def test_lint__canonical_wildcards__all_accepted_by_the_engine() -> None:
    # Lint compiles wildcards with the engine's wildcard_to_regex without a safety net.
    findings = lint_document(
        {"origins": {"wildcard": ["https://*.example.com", "http://*.localhost:8080"]}},
        environment="development",
    )

    assert all(f.rule != "invalid-origin" for f in findings)


def test_origin_error__code_and_message__kept() -> None:
    error = OriginError("bad", code="regex-uncheckable")

    assert (str(error), error.code) == ("bad", "regex-uncheckable")
