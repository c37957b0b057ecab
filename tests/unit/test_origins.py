"""policies.origins: canonical origins, wildcards and regex rules (pure: no database)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

import pytest
import re2
from hypothesis import example, given
from hypothesis import strategies as st

from policies import cors
from policies.origins import (
    MAX_ORIGIN_LENGTH,
    MAX_REGEX_LENGTH,
    OriginError,
    RuleKind,
    canonical_origin,
    canonical_rule,
    canonical_wildcard,
    is_public_suffix,
    scan_regex,
    validate_regex,
)

# --- canonical_origin: accepted values ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("https://example.com", "https://example.com", id="already-canonical"),
        pytest.param("HTTPS://Example.COM", "https://example.com", id="upper-case"),
        pytest.param("https://example.com:443", "https://example.com", id="default-https-port"),
        pytest.param("http://example.com:80", "http://example.com", id="default-http-port"),
        pytest.param("https://example.com:80", "https://example.com:80", id="http-port-on-https"),
        pytest.param("http://example.com:443", "http://example.com:443", id="https-port-on-http"),
        pytest.param("http://localhost:3000", "http://localhost:3000", id="localhost-port"),
        pytest.param("https://example.com:0443", "https://example.com", id="port-leading-zero"),
        pytest.param("https://example.com/", "https://example.com", id="trailing-slash"),
        pytest.param("https://example.com:8443/", "https://example.com:8443", id="port-slash"),
        pytest.param("  https://example.com\n", "https://example.com", id="outer-whitespace"),
        pytest.param("https://Bücher.example", "https://xn--bcher-kva.example", id="idn"),
        pytest.param("https://faß.de", "https://xn--fa-hia.de", id="idn-nontransitional"),
        pytest.param(
            # "EXAMPLE.com" in full-width forms, written as escapes for the linter
            "https://\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25\uff0e\uff43\uff4f\uff4d",
            "https://example.com",
            id="fullwidth",
        ),
        pytest.param(
            "https://xn--bcher-kva.example", "https://xn--bcher-kva.example", id="a-label"
        ),
        pytest.param("https://ab--cd.example", "https://ab--cd.example", id="double-hyphen"),
        pytest.param("http://127.0.0.1:8000", "http://127.0.0.1:8000", id="ipv4"),
        pytest.param("https://[::1]", "https://[::1]", id="ipv6-loopback"),
        pytest.param(
            "http://[2001:DB8:0:0:1:0:0:1]:8080", "http://[2001:db8::1:0:0:1]:8080", id="ipv6"
        ),
        pytest.param("https://[0:0:0:0:0:0:0:1]:443", "https://[::1]", id="ipv6-expanded"),
        pytest.param("http://[::ffff:1.2.3.4]", "http://[::ffff:102:304]", id="ipv4-mapped"),
        pytest.param("https://a-b.c0.example", "https://a-b.c0.example", id="hyphen-digits"),
        pytest.param("https://" + "a" * 63 + ".com", "https://" + "a" * 63 + ".com", id="label-63"),
    ],
)
def test_canonical_origin__valid_input__browser_serialisation(text: str, expected: str) -> None:
    assert canonical_origin(text) == expected


# --- canonical_origin: refused values, each with a specific message ------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("example.com", "add the scheme: https://example.com", id="no-scheme"),
        pytest.param("localhost:3000", "add the scheme: https://localhost:3000", id="host-port"),
        pytest.param("//example.com", "add the scheme: https://example.com", id="scheme-relative"),
        pytest.param("https:example.com", "write '://' after the scheme", id="no-slashes"),
        pytest.param("ftp://example.com", "only http and https origins", id="ftp"),
        pytest.param("ws://example.com", "not ws://", id="websocket"),
        pytest.param("chrome-extension://abcdef", "host permissions, not CORS", id="extension"),
        pytest.param("moz-extension://abcdef", "moz-extension:// origins are not", id="moz-ext"),
        pytest.param("file:///etc/passwd", "file: documents send the origin 'null'", id="file"),
        pytest.param("data:text/html,hi", "data: documents send the origin 'null'", id="data"),
        pytest.param("1http://example.com", "'1http' is not a scheme", id="bad-scheme"),
        pytest.param("https://https://a.com", "the scheme appears twice", id="double-scheme"),
        pytest.param("https://example.com/app", "origins have no path: remove '/app'", id="path"),
        pytest.param("https://example.com//", "remove '//'", id="double-slash"),
        pytest.param("https://example.com\\app", "origins have no path", id="backslash"),
        pytest.param("https://example.com?a=1", "no query string: remove '?a=1'", id="query"),
        pytest.param("https://example.com#top", "no fragment: remove '#top'", id="fragment"),
        pytest.param("https://user@example.com", "no user name or password", id="user"),
        pytest.param("https://example.com:abc", "number from 1 to 65535, not 'abc'", id="port-abc"),
        pytest.param("https://example.com:0", "not '0'", id="port-0"),
        pytest.param("https://example.com:65536", "not '65536'", id="port-too-big"),
        pytest.param("https://example.com:+80", "not '+80'", id="port-sign"),
        pytest.param("https://example.com:", "the port after ':' is empty", id="port-empty"),
        pytest.param("https://exa mple.com", "remove the space at position 12", id="space"),
        pytest.param("https://exa\tmple.com", "no spaces", id="tab"),
        pytest.param("https://exa\u200bmple.com", "invisible character U+200B", id="zero-width"),
        pytest.param("https://", "the host is missing", id="empty-host"),
        pytest.param("https://:8443", "the host is missing", id="port-only"),
        pytest.param("https://example.com.", "remove the trailing dot: 'example.com'", id="dot"),
        pytest.param("https://a..com", "has an empty label", id="empty-label"),
        pytest.param("https://a_b.example", "'_' is not allowed in a host name", id="underscore"),
        pytest.param("https://exa%41mple.com", "'%' is not allowed", id="percent"),
        pytest.param("https://-a.example", "cannot start or end with a hyphen: '-a'", id="hyphen"),
        pytest.param("https://" + "a" * 64 + ".com", "is 64 characters; the limit is 63", id="64"),
        pytest.param("https://xn--zz.example", "'xn--zz' is not valid punycode", id="punycode"),
        pytest.param("https://☃\u200d.example", "invisible character", id="joiner"),
        pytest.param("https://010.0.0.1", "without leading zeros", id="octal-ipv4"),
        pytest.param("https://1.2.3.256", "'1.2.3.256' is not an IPv4 address", id="ipv4-256"),
        pytest.param("https://0x7f.1", "is not an IPv4 address", id="hex-ipv4"),
        pytest.param("https://example.123", "is not an IPv4 address", id="numeric-tld"),
        pytest.param("https://::1", "put an IPv6 address in brackets", id="ipv6-bare"),
        pytest.param("https://[::1", "close the IPv6 address with ']'", id="ipv6-open"),
        pytest.param("https://[::1]x", "remove 'x' after the IPv6 address", id="ipv6-junk"),
        pytest.param("https://[fe80::1%25eth0]", "zone ids", id="ipv6-zone"),
        pytest.param("https://[::g]", "'[::g]' is not a valid IPv6 address", id="ipv6-bad"),
        pytest.param("*", "an exact origin cannot contain '*'", id="star"),
        pytest.param("https://*.example.com", "add a wildcard rule", id="wildcard"),
        pytest.param("https://a*.example.com", "cannot contain '*'", id="star-in-label"),
        pytest.param("null", "controlled by the separate 'allow null' switch", id="null"),
        pytest.param("NULL", "not recommended", id="null-upper"),
        pytest.param("", "enter an origin", id="empty"),
        pytest.param("   ", "enter an origin", id="blank"),
    ],
)
def test_canonical_origin__invalid_input__specific_message(text: str, fragment: str) -> None:
    with pytest.raises(OriginError) as caught:
        canonical_origin(text)

    assert fragment in caught.value.message
    assert str(caught.value) == caught.value.message
    assert caught.value.code == "invalid-origin"


def test_canonical_origin__userinfo__never_echoes_the_password() -> None:
    with pytest.raises(OriginError) as caught:
        canonical_origin("https://admin:hunter2@example.com")

    assert "hunter2" not in caught.value.message


def test_canonical_origin__length_limit__inclusive() -> None:
    # Given valid origins padded with leading zeros in the port ("https://example.com:" is 20)
    at_limit = "https://example.com:" + "443".rjust(MAX_ORIGIN_LENGTH - 20, "0")
    over_limit = "https://example.com:" + "443".rjust(MAX_ORIGIN_LENGTH - 19, "0")
    # Then the limit itself is accepted and one character more is refused
    assert len(at_limit) == MAX_ORIGIN_LENGTH
    assert canonical_origin(at_limit) == "https://example.com"
    with pytest.raises(OriginError) as caught:
        canonical_origin(over_limit)
    assert caught.value.message == (
        f"the origin is {MAX_ORIGIN_LENGTH + 1} characters long; the limit is {MAX_ORIGIN_LENGTH}"
    )


def test_max_origin_length__shared_with_engine__same_object() -> None:
    assert MAX_ORIGIN_LENGTH is cors.MAX_ORIGIN_LENGTH


def test_canonical_origin__host_over_253__refused() -> None:
    host = ".".join(["a" * 63] * 4)  # 255 characters
    with pytest.raises(OriginError, match="255 characters long; the limit is 253"):
        canonical_origin(f"https://{host}")


def test_canonical_origin__non_string__origin_error() -> None:
    with pytest.raises(OriginError, match="an origin must be text, not int"):
        canonical_origin(42)  # type: ignore[arg-type]


# --- canonical_wildcard ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("https://*.example.com", "https://*.example.com", id="canonical"),
        pytest.param("HTTPS://*.Example.COM:443", "https://*.example.com", id="case-port"),
        pytest.param("http://*.example.test:8080", "http://*.example.test:8080", id="port"),
        pytest.param("https://*.example.com/", "https://*.example.com", id="slash"),
        pytest.param("https://*.a.example.co.uk", "https://*.a.example.co.uk", id="deep"),
        pytest.param("https://*.bücher.example", "https://*.xn--bcher-kva.example", id="idn"),
        pytest.param("http://*.localhost:3000", "http://*.localhost:3000", id="localhost"),
    ],
)
def test_canonical_wildcard__valid_input__canonical_form(text: str, expected: str) -> None:
    assert canonical_wildcard(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("*", "to allow every origin use the 'allow all' switch", id="star"),
        pytest.param("https://*", "'*' must be followed by a domain you control", id="only-star"),
        pytest.param("https://a*.example.com", "'*' must be the whole leftmost label", id="part"),
        pytest.param("https://*a.example.com", "'*a.example.com' does not have", id="prefix"),
        pytest.param("https://example.*", "'example.*' does not have that shape", id="tld"),
        pytest.param("https://a.*.example.com", "whole leftmost label", id="middle"),
        pytest.param("https://*.*.example.com", "once", id="two-stars"),
        pytest.param("*://example.com", "the scheme cannot be a wildcard", id="scheme"),
        pytest.param("https://*.example.com:*", "the port cannot be a wildcard", id="port"),
        pytest.param("https://example.com", "for the single origin https://example.com", id="no"),
        pytest.param("*.example.com", "add the scheme: https://*.example.com", id="no-scheme"),
        pytest.param("https://*.10.0.0.1", "not the IP address 10.0.0.1", id="ipv4"),
        pytest.param("https://*.example.com/app", "origins have no path", id="path"),
        pytest.param("https://*.example.com.", "remove the trailing dot", id="trailing-dot"),
        pytest.param("ftp://*.example.com", "only http and https", id="ftp"),
        pytest.param("null", "'allow null' switch", id="null"),
    ],
)
def test_canonical_wildcard__invalid_input__specific_message(text: str, fragment: str) -> None:
    with pytest.raises(OriginError) as caught:
        canonical_wildcard(text)

    assert fragment in caught.value.message
    assert caught.value.code == "invalid-origin"


@pytest.mark.parametrize(
    ("text", "suffix", "kind"),
    [
        pytest.param("https://*.com", "com", "top-level domain", id="com"),
        pytest.param("https://*.co.uk", "co.uk", "public suffix", id="co-uk"),
        pytest.param("https://*.github.io", "github.io", "public suffix", id="github-io"),
        pytest.param("https://*.CO.UK:443", "co.uk", "public suffix", id="co-uk-case"),
        pytest.param("https://*.internal", "internal", "top-level domain", id="unknown-tld"),
        pytest.param("https://*.xn--p1ai", "xn--p1ai", "top-level domain", id="idn-tld"),
    ],
)
def test_canonical_wildcard__public_suffix__names_the_suffix(
    text: str, suffix: str, kind: str
) -> None:
    with pytest.raises(OriginError) as caught:
        canonical_wildcard(text)

    assert f"every site under the {kind} '{suffix}'" in caught.value.message
    assert caught.value.code == "wildcard-on-public-suffix"


def test_canonical_wildcard__under_private_suffix__accepted() -> None:
    # Given a domain registered under the private-section suffix github.io
    # Then a wildcard below it is someone's own namespace
    assert canonical_wildcard("https://*.myorg.github.io") == "https://*.myorg.github.io"


# --- validate_regex -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(r"^https://pr-[0-9]+\.preview\.example\.com$", id="design-example"),
        pytest.param(r"^https://[a-z0-9-]+\.example\.com(:[0-9]+)?$", id="optional-port"),
        pytest.param(r"^(?:https://a\.example\.com|https://b\.example\.com)$", id="group"),
        pytest.param(r"^https://a\.com$|^https://b\.com$", id="anchored-branches"),
        pytest.param(r"^https://[$]\.com$", id="dollar-in-class"),
    ],
)
def test_validate_regex__anchored_re2_pattern__returned_unchanged(pattern: str) -> None:
    assert validate_regex(pattern) == pattern


def test_validate_regex__surrounding_whitespace__stripped_only() -> None:
    assert validate_regex("  ^https://a\\.com$ \n") == r"^https://a\.com$"


@pytest.mark.parametrize(
    ("pattern", "fixed"),
    [
        pytest.param(r"https://app\.example\.com", r"^https://app\.example\.com$", id="neither"),
        pytest.param(r"^https://app\.example\.com", r"^https://app\.example\.com$", id="no-end"),
        pytest.param(r"https://app\.example\.com$", r"^https://app\.example\.com$", id="no-start"),
        pytest.param(r"^https://a\.com\$", r"^https://a\.com\$$", id="escaped-dollar"),
        pytest.param(r"\Q^https://a.com$\E", r"^\Q^https://a.com$\E$", id="quoted-anchors"),
        pytest.param(
            r"^https://a\.com|https://b\.com$",
            r"^(?:https://a\.com|https://b\.com)$",
            id="alternation-binds-anchors",
        ),
    ],
)
def test_validate_regex__not_anchored__message_shows_fixed_pattern(
    pattern: str, fixed: str
) -> None:
    with pytest.raises(OriginError) as caught:
        validate_regex(pattern)

    assert caught.value.message == (
        f"anchor the pattern at both ends so it matches whole origins only: {fixed}"
    )
    assert caught.value.code == "regex-not-anchored"


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        pytest.param("^(a$", "not a valid RE2 regular expression: missing )", id="syntax"),
        pytest.param(r"^(?=https)$", "invalid perl operator", id="lookahead"),
        pytest.param(r"^(a)\1$", "invalid escape sequence", id="backreference"),
        pytest.param("", "enter a pattern", id="empty"),
        pytest.param("^" + "a" * MAX_REGEX_LENGTH + "$", "the limit is 1000", id="too-long"),
    ],
)
def test_validate_regex__invalid__explains_in_a_sentence(pattern: str, fragment: str) -> None:
    with pytest.raises(OriginError) as caught:
        validate_regex(pattern)

    assert fragment in caught.value.message
    assert caught.value.code == "regex-invalid"


def test_validate_regex__re2_error__not_logged_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(OriginError):
        validate_regex("^(a$")

    assert "re2.cc" not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("pattern", "syntax"),
    [
        pytest.param(r"a.b", [(1, ".")], id="bare-dot"),
        pytest.param(r"a\.b", [], id="escaped"),
        pytest.param(r"[.]x", [], id="class"),
        pytest.param(r"[].]x", [], id="bracket-first-in-class"),
        pytest.param(r"[^].]x", [], id="negated-bracket-first"),
        pytest.param(r"[[:alpha:].]", [], id="posix-class"),
        pytest.param(r"\Qa.b\E.", [(7, ".")], id="quoted"),
        pytest.param(r"(a|b)", [(0, "("), (2, "|"), (4, ")")], id="groups"),
    ],
)
def test_scan_regex__pattern__yields_only_syntax_characters(
    pattern: str, syntax: list[tuple[int, str]]
) -> None:
    found = [(i, c) for i, c in scan_regex(pattern) if c in ".|()"]
    assert found == syntax


# --- canonical_rule, RuleKind, is_public_suffix ---------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        pytest.param("exact", "HTTPS://A.example.com:443", "https://a.example.com", id="exact"),
        pytest.param(RuleKind.WILDCARD, "https://*.Example.com", "https://*.example.com", id="wc"),
        pytest.param("regex", r" ^https://a\.com$ ", r"^https://a\.com$", id="regex"),
    ],
)
def test_canonical_rule__known_kind__dispatches(kind: str, value: str, expected: str) -> None:
    assert canonical_rule(kind, value) == expected


def test_canonical_rule__unknown_kind__lists_the_kinds() -> None:
    with pytest.raises(
        OriginError, match="unknown rule kind 'glob': use one of exact, wildcard, regex"
    ):
        canonical_rule("glob", "https://a.com")


def test_rule_kind__values__match_the_model_choices() -> None:
    assert [kind.value for kind in RuleKind] == ["exact", "wildcard", "regex"]
    assert RuleKind("exact") == "exact"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        pytest.param("com", True, id="tld"),
        pytest.param("co.uk", True, id="icann-2-level"),
        pytest.param("github.io", True, id="private-section"),
        pytest.param("CO.UK.", True, id="case-and-dot"),
        pytest.param("example.com", False, id="registrable"),
        pytest.param("example.co.uk", False, id="registrable-2-level"),
        pytest.param("internal", True, id="unknown-tld"),
        pytest.param("рф", True, id="idn-tld-unicode"),
        pytest.param("", False, id="empty"),
    ],
)
def test_is_public_suffix__host__psl_answer(host: str, expected: bool) -> None:
    assert is_public_suffix(host) is expected


def test_origin_error__is_a_value_error_with_message_and_code() -> None:
    error = OriginError("something is off")
    assert isinstance(error, ValueError)
    assert (str(error), error.message, error.code) == (
        "something is off",
        "something is off",
        "invalid-origin",
    )


# --- properties -----------------------------------------------------------------------------

_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


def _is_name(host: str) -> bool:
    """Not read as IPv4 by browsers (numeric last label) and no would-be punycode label."""
    last = host.rsplit(".", 1)[-1]
    numeric = last.isdigit() or (
        last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:])
    )
    return not numeric and not any(label.startswith("xn--") for label in host.split("."))


_HOST = st.lists(_LABEL, min_size=1, max_size=4).map(".".join).filter(_is_name)
_PORT = st.none() | st.integers(min_value=1, max_value=65535)


def _random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def _origin_texts(draw: st.DrawFn) -> tuple[str, str, str, int | None]:
    """(text as a person might type it, scheme, host, port)."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(_HOST)
    port = draw(_PORT)
    text = f"{_random_case(draw, scheme)}://{_random_case(draw, host)}"
    if port is not None:
        text += f":{port}"
    if draw(st.booleans()):
        text += "/"
    return text, scheme, host, port


@given(_origin_texts())
def test_canonical_origin__generated_origins__match_the_browser_serialisation(
    generated: tuple[str, str, str, int | None],
) -> None:
    # Given an origin typed with random case, an optional port and an optional slash
    text, scheme, host, port = generated
    # When
    result = canonical_origin(text)
    # Then it is what a browser would put in Origin: default port dropped, lower case
    default = {"http": 80, "https": 443}[scheme]
    expected_port = "" if port in (None, default) else f":{port}"
    assert result == f"{scheme}://{host}{expected_port}"
    parts = urllib.parse.urlsplit(result)
    assert (parts.scheme, parts.hostname, parts.path) == (scheme, host, "")


@given(_origin_texts())
def test_canonical_origin__canonical_output__idempotent(
    generated: tuple[str, str, str, int | None],
) -> None:
    once = canonical_origin(generated[0])
    assert canonical_origin(once) == once


def _attempt(function: Callable[[str], str], text: str) -> str | OriginError:
    try:
        return function(text)
    except OriginError as error:
        return error


@given(st.text(max_size=80))
@example("https://[::1]:")
@example("https://[")
@example("https://\u0661.com")
@example("https://\U0001f600.example")
@example("https://a.b.c.d.e.0x")
def test_canonical_origin__any_text__only_origin_error(text: str) -> None:
    # When any text at all is offered, the only failure is an OriginError with a message
    result = _attempt(canonical_origin, text)
    # Then, and whatever is accepted is already canonical
    if isinstance(result, OriginError):
        assert result.message
    else:
        assert canonical_origin(result) == result


@given(st.text(max_size=80))
@example("https://*.")
@example("https://*.[::1]")
@example("https://*.\u0661")
def test_canonical_wildcard__any_text__only_origin_error(text: str) -> None:
    result = _attempt(canonical_wildcard, text)
    if isinstance(result, OriginError):
        assert result.message
    else:
        assert canonical_wildcard(result) == result
        # ...and the engine (and lint, which relies on it) accepts every canonical wildcard
        assert cors.wildcard_to_regex(result).startswith("^")


@given(st.text(max_size=80))
@example("^\\")
@example("^\\Q$")
@example("^[")
def test_validate_regex__any_text__only_origin_error(text: str) -> None:
    result = _attempt(validate_regex, text)
    if isinstance(result, OriginError):
        assert result.message
    else:
        assert result == text.strip()


@given(st.sampled_from(["exact", "wildcard", "regex", "other"]), st.text(max_size=40))
def test_canonical_rule__any_text__only_origin_error(kind: str, value: str) -> None:
    result = _attempt(lambda text: canonical_rule(kind, text), value)
    assert isinstance(result, str) or result.message


@given(
    base=_HOST.filter(lambda host: "." in host and not is_public_suffix(host)),
    sub=st.lists(_LABEL, min_size=1, max_size=3).map(".".join),
    scheme=st.sampled_from(["http", "https"]),
    port=_PORT,
)
def test_canonical_wildcard__engine_regex__matches_subdomains_never_the_base(
    base: str, sub: str, scheme: str, port: int | None
) -> None:
    # Given a canonical wildcard and the engine's regex for it
    wildcard = canonical_wildcard(f"{scheme}://*.{base}" + ("" if port is None else f":{port}"))
    regex = re2.compile(cors.wildcard_to_regex(wildcard))
    # (browsers leave a default port out of Origin)
    default = {"http": 80, "https": 443}[scheme]
    suffix = "" if port in (None, default) else f":{port}"
    # Then one or more labels match; the bare domain and a look-alike never do
    assert regex.fullmatch(f"{scheme}://{sub}.{base}{suffix}")
    assert not regex.fullmatch(f"{scheme}://{base}{suffix}")
    assert not regex.fullmatch(f"{scheme}://{sub}{base}{suffix}")
