"""Parse, canonicalise and validate origins and origin patterns (pure Python, no Django).

Exact origins are stored exactly as browsers serialise them in the `Origin` header (WHATWG URL,
"ASCII serialization of an origin"), so the engine can compare them byte for byte. Every
refusal is an `OriginError` whose message says what is wrong and how to fix it: people read
these messages in the dashboard and in API responses.

Decisions (each pinned by a test):
- Only http and https: extension pages get cross-origin access from host permissions, and
  file:, data: and sandboxed documents send `Origin: null` (a separate switch).
- Surrounding whitespace and a single trailing "/" are removed (people paste URLs); any other
  path, a query, a fragment, user info, an empty port or a trailing dot is refused.
- Host labels are letters, digits and hyphens (no underscore); IDN hosts become punycode
  (UTS46 mapping, then IDNA2008 checks); IPv4 must be plain dotted decimal (browsers read
  "010.0.0.1" as octal), IPv6 must be bracketed and has no zone id.
- A wildcard's `*` is the whole leftmost label and stands for one or more labels; the rest
  must not be a public suffix (the Public Suffix List, private section included, with any
  unknown single-label TLD such as "internal" treated as a suffix; only `*.localhost` passes).
"""

from __future__ import annotations

import collections
import enum
import functools
import ipaddress
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import idna
import interegular
import re2
from publicsuffixlist import PublicSuffixList

from policies.cors import MAX_ORIGIN_LENGTH, re2_error_text

__all__ = [
    "MAX_ANALYSED_REPETITION",
    "MAX_ORIGIN_LENGTH",
    "MAX_REGEX_LENGTH",
    "Escape",
    "OriginError",
    "RuleKind",
    "canonical_origin",
    "canonical_rule",
    "canonical_wildcard",
    "containment_escape",
    "is_public_suffix",
    "scan_regex",
    "validate_regex",
]

# Same as OriginRule.value's column: a longer pattern could not be stored anyway.
MAX_REGEX_LENGTH = 1000

_DEFAULT_PORTS = {"http": 80, "https": 443}
_EXAMPLE = "https://example.com"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
# WHATWG "ends in a number": such a host is parsed as IPv4 by browsers, never as a name.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")
_EXTENSION_SCHEMES = frozenset({"chrome-extension", "moz-extension", "safari-web-extension"})
_NULL_SCHEMES = frozenset({"file", "data", "about", "blob", "javascript"})
_KNOWN_SCHEMES = (
    _EXTENSION_SCHEMES | _NULL_SCHEMES | {"http", "https", "ftp", "ws", "wss", "mailto"}
)


class OriginError(ValueError):
    """A value that cannot be an origin rule; `message` is a sentence for a person.

    `code` is a stable id for callers that react to a particular problem (lint reuses it as a
    rule id): "invalid-origin", "wildcard-on-public-suffix", "regex-invalid",
    "regex-not-anchored" or "regex-uncheckable".
    """

    def __init__(self, message: str, *, code: str = "invalid-origin") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class RuleKind(enum.StrEnum):
    EXACT = "exact"
    WILDCARD = "wildcard"
    REGEX = "regex"


def canonical_origin(text: str) -> str:
    """The origin as a browser sends it, e.g. "HTTPS://Bücher.Example:443/" ->
    "https://xn--bcher-kva.example"."""
    text = _prepare(text)
    if "*" in text:
        raise OriginError(
            "an exact origin cannot contain '*': add a wildcard rule such as "
            "https://*.example.com instead, or use the 'allow all' switch for every origin"
        )
    scheme, host, port = _split(text)
    return _serialise(scheme, _canonical_host(host), port)


def canonical_wildcard(text: str) -> str:
    """A wildcard rule in canonical form, e.g. "HTTPS://*.Example.COM:443" ->
    "https://*.example.com"."""
    text = _prepare(text)
    if text == "*":
        raise OriginError(
            "a wildcard rule needs a scheme and a domain, e.g. https://*.example.com; "
            "to allow every origin use the 'allow all' switch"
        )
    if "*" not in text:
        raise OriginError(
            f"a wildcard rule needs '*' as its leftmost label, e.g. https://*.example.com; "
            f"for the single origin {text} add an exact rule"
        )
    if "*" in text.partition("://")[0] and "://" in text:
        raise OriginError(
            "the scheme cannot be a wildcard: add one rule for https:// (and one for http:// "
            "only if you really need it)"
        )
    if text.removesuffix("/").endswith(":*"):
        raise OriginError("the port cannot be a wildcard: add one rule per port")
    scheme, host, port = _split(text)
    if host == "*":
        raise OriginError(
            f"'*' must be followed by a domain you control, e.g. {scheme}://*.example.com"
        )
    if not host.startswith("*.") or "*" in host[2:]:
        raise OriginError(
            f"'*' must be the whole leftmost label, once, e.g. {scheme}://*.example.com "
            f"(it stands for one or more labels); '{host}' does not have that shape"
        )
    base = _canonical_host(host[2:])
    if base.startswith("[") or _is_ipv4(base):
        raise OriginError(f"a wildcard needs a domain name, not the IP address {base}")
    # `*.localhost` is loopback only (browsers resolve it to this machine; the engine accepts
    # it too), so no unrelated owner is behind it, unlike every other unknown TLD.
    if base != "localhost" and is_public_suffix(base):
        what = "top-level domain" if "." not in base else "public suffix"
        raise OriginError(
            f"'*.{base}' would match every site under the {what} '{base}', run by unrelated "
            f"owners: use a domain you control, e.g. {scheme}://*.example.{base}",
            code="wildcard-on-public-suffix",
        )
    if len(base) + 2 > 253:
        raise OriginError(f"the host name is {len(base) + 2} characters long; the limit is 253")
    return _serialise(scheme, "*." + base, port)


def validate_regex(text: str) -> str:
    """The pattern, stripped of surrounding whitespace, if RE2 compiles it and it is anchored.

    The engine full-matches anyway; the anchors make that intent visible to whoever reads the
    pattern (and to tools that only search).
    """
    if not isinstance(text, str):
        raise OriginError(
            f"a pattern must be text, not {type(text).__name__}", code="regex-invalid"
        )
    pattern = text.strip()
    if not pattern:
        raise OriginError(
            r"enter a pattern, e.g. ^https://pr-[0-9]+\.example\.com$", code="regex-invalid"
        )
    if len(pattern) > MAX_REGEX_LENGTH:
        raise OriginError(
            f"the pattern is {len(pattern)} characters long; the limit is {MAX_REGEX_LENGTH}",
            code="regex-invalid",
        )
    _compile(pattern)
    branches = _top_level_branches(pattern)
    if not all(all(_anchors(branch)) for branch in branches):
        bodies = [_strip_anchors(branch) for branch in branches]
        fixed = f"^{bodies[0]}$" if len(bodies) == 1 else f"^(?:{'|'.join(bodies)})$"
        raise OriginError(
            f"anchor the pattern at both ends so it matches whole origins only: {fixed}",
            code="regex-not-anchored",
        )
    return pattern


def canonical_rule(kind: str, value: str) -> str:
    """The canonical value of an origin rule of the given kind."""
    try:
        rule_kind = RuleKind(kind)
    except ValueError:
        raise OriginError(
            f"unknown rule kind {kind!r}: use one of {', '.join(k.value for k in RuleKind)}"
        ) from None
    if rule_kind is RuleKind.EXACT:
        return canonical_origin(value)
    if rule_kind is RuleKind.WILDCARD:
        return canonical_wildcard(value)
    return validate_regex(value)


def is_public_suffix(host: str) -> bool:
    """Whether `host` is itself a public suffix ("com", "co.uk", "github.io")."""
    host = host.strip().lower().rstrip(".")
    if not host:
        return False
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except UnicodeError:
            return False
    return bool(_public_suffix_list().is_public(host))


@functools.cache
def _public_suffix_list() -> PublicSuffixList:
    # Parsing the bundled list takes a moment: do it once, on first use.
    return PublicSuffixList()


def _compile(pattern: str) -> None:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected pattern to stderr
    try:
        re2.compile(pattern, options)
    except re2.error as exc:
        raise OriginError(
            f"the pattern is not a valid RE2 regular expression: {re2_error_text(exc)} (RE2 has no "
            f"lookaround and no backreferences)",
            code="regex-invalid",
        ) from None
    except UnicodeError:
        raise OriginError(
            "the pattern contains characters that are not valid text", code="regex-invalid"
        ) from None


def scan_regex(pattern: str) -> Iterator[tuple[int, str]]:
    """(index, character) of each character that RE2 reads as syntax, not as a literal:
    everything outside character classes, escapes and \\Q...\\E quotes."""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if pattern.startswith("Q", index + 1):
                end = pattern.find("\\E", index + 2)
                index = len(pattern) if end < 0 else end + 2
            else:
                index += 2
        elif char == "[":
            index = _class_end(pattern, index)
        else:
            yield index, char
            index += 1


def _class_end(pattern: str, start: int) -> int:
    """The index just past the character class that opens at `start`."""
    index = start + 1
    # A ']' right after '[' or '[^' is a member, not the end of the class.
    if pattern.startswith("^", index):
        index += 1
    if pattern.startswith("]", index):
        index += 1
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
        elif pattern.startswith("[:", index) and (end := pattern.find(":]", index + 2)) >= 0:
            index = end + 2
        elif pattern[index] == "]":
            return index + 1
        else:
            index += 1
    return index


def _top_level_branches(pattern: str) -> list[str]:
    """Split on '|' outside groups: in `^a|b$` each anchor binds only its own branch."""
    branches: list[str] = []
    depth, start = 0, 0
    for index, char in scan_regex(pattern):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(pattern[start:index])
            start = index + 1
    branches.append(pattern[start:])
    return branches


def _anchors(branch: str) -> tuple[bool, bool]:
    """Whether the branch starts with a '^' and ends with a '$' that are syntax, not literals."""
    syntax = dict(scan_regex(branch))
    return syntax.get(0) == "^", syntax.get(len(branch) - 1) == "$"


def _strip_anchors(branch: str) -> str:
    start, end = _anchors(branch)
    return branch[1 if start else 0 : len(branch) - 1 if end else len(branch)]


def _prepare(text: str) -> str:
    """Checks shared by exact and wildcard rules, before any parsing."""
    if not isinstance(text, str):
        raise OriginError(f"an origin must be text, not {type(text).__name__}")
    text = text.strip()
    if not text:
        raise OriginError(f"enter an origin, e.g. {_EXAMPLE}")
    if len(text) > MAX_ORIGIN_LENGTH:
        raise OriginError(
            f"the origin is {len(text)} characters long; the limit is {MAX_ORIGIN_LENGTH}"
        )
    if text.lower() == "null":
        raise OriginError(
            "'null' is not an origin rule: it is what sandboxed iframes, file: pages and "
            "redirected requests send, so any site can produce it; it is controlled by the "
            "separate 'allow null' switch, which is not recommended"
        )
    for position, char in enumerate(text, start=1):
        if char.isspace():
            raise OriginError(
                f"an origin contains no spaces: remove the space at position {position}"
            )
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise OriginError(
                f"remove the invisible character U+{ord(char):04X} at position {position}"
            )
    return text


def _split(text: str) -> tuple[str, str, int | None]:
    """(lower-case scheme, raw host, port or None) of a URL-shaped origin."""
    scheme, separator, rest = text.partition("://")
    if not separator:
        _missing_scheme(text)
    if not _SCHEME.fullmatch(scheme):
        raise OriginError(
            f"'{scheme}' is not a scheme: start with http:// or https://, e.g. {_EXAMPLE}"
        )
    scheme = scheme.lower()
    _check_scheme(scheme)

    if rest.lower().startswith(("http://", "https://")):
        raise OriginError(f"the scheme appears twice: keep only one '{scheme}://'")
    end = min((i for i in map(rest.find, "/?#\\") if i >= 0), default=len(rest))
    authority, remainder = rest[:end], rest[end:]
    if remainder and remainder != "/":
        _refuse_remainder(remainder)
    if "@" in authority:
        # Never echo it back: the part before '@' is often a password.
        raise OriginError(
            "an origin has no user name or password: remove everything up to and including '@'"
        )
    host, port = _split_authority(authority)
    return scheme, host, _port(scheme, port)


def _missing_scheme(text: str) -> NoReturn:
    candidate, colon, _ = text.partition(":")
    candidate = candidate.lower()
    if colon and candidate in _DEFAULT_PORTS:
        raise OriginError(f"write '://' after the scheme, e.g. {candidate}://example.com")
    if colon and candidate in _KNOWN_SCHEMES:
        _check_scheme(candidate)
    suggestion = "https:" + text if text.startswith("//") else "https://" + text
    raise OriginError(f"add the scheme: {suggestion}")


def _check_scheme(scheme: str) -> None:
    if scheme in _DEFAULT_PORTS:
        return
    if scheme in _EXTENSION_SCHEMES:
        raise OriginError(
            f"{scheme}:// origins are not supported: only http and https origins can be "
            f"allowed (an extension reaches other sites through its host permissions, not CORS)"
        )
    if scheme in _NULL_SCHEMES:
        raise OriginError(
            f"{scheme}: documents send the origin 'null', not an origin you can list: only "
            f"http and https origins can be allowed"
        )
    raise OriginError(f"only http and https origins can be allowed, not {scheme}://")


def _refuse_remainder(remainder: str) -> NoReturn:
    if remainder.startswith("?"):
        raise OriginError(f"an origin has no query string: remove '{remainder}'")
    if remainder.startswith("#"):
        raise OriginError(f"an origin has no fragment: remove '{remainder}'")
    raise OriginError(f"origins have no path: remove '{remainder}'")


def _split_authority(authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        host, bracket, after = authority.partition("]")
        if not bracket:
            raise OriginError(f"close the IPv6 address with ']': {authority}]")
        if after and not after.startswith(":"):
            raise OriginError(f"remove '{after}' after the IPv6 address")
        return host + "]", (after[1:] if after else None)
    if authority.count(":") > 1:
        raise OriginError("put an IPv6 address in brackets, e.g. https://[2001:db8::1]:8443")
    host, colon, port = authority.partition(":")
    return host, (port if colon else None)


def _port(scheme: str, text: str | None) -> int | None:
    if text is None:
        return None
    if not text:
        raise OriginError("the port after ':' is empty: remove the ':' or add a port number")
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise OriginError(f"the port must be a number from 1 to 65535, not '{text}'")
    port = int(text)
    return None if port == _DEFAULT_PORTS[scheme] else port


def _serialise(scheme: str, host: str, port: int | None) -> str:
    return f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"


def _canonical_host(host: str) -> str:
    if not host:
        raise OriginError(f"the host is missing, e.g. {_EXAMPLE}")
    if host.startswith("["):
        return _canonical_ipv6(host[1:-1])
    if not host.isascii():
        try:
            # UTS46 mapping as browsers do it: case folding, full-width forms, ideographic dots.
            host = idna.uts46_remap(host, std3_rules=True, transitional=False)
        except UnicodeError as exc:
            raise OriginError(f"'{host}' is not a valid international domain name: {exc}") from None
    host = host.lower()
    if host.endswith("."):
        raise OriginError(f"remove the trailing dot: '{host.rstrip('.')}'")
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return _canonical_ipv4(host)
    ascii_host = ".".join(_ascii_label(label, host) for label in labels)
    if len(ascii_host) > 253:
        raise OriginError(f"the host name is {len(ascii_host)} characters long; the limit is 253")
    return ascii_host


def _ascii_label(label: str, host: str) -> str:
    if not label:
        raise OriginError(f"'{host}' has an empty label (two dots in a row or a leading dot)")
    if not label.isascii():
        try:
            label = idna.encode(label).decode("ascii")
        except UnicodeError as exc:
            raise OriginError(
                f"'{label}' is not a valid international domain label: {exc}"
            ) from None
    elif label.startswith("xn--"):
        try:
            idna.decode(label)
        except UnicodeError:
            raise OriginError(f"'{label}' is not valid punycode") from None
    if len(label) > 63:
        raise OriginError(
            f"the label '{label[:20]}...' is {len(label)} characters; the limit is 63"
        )
    if not _LABEL.fullmatch(label):
        raise OriginError(_label_problem(label))
    return label


def _label_problem(label: str) -> str:
    # ('*' never gets here: exact origins and wildcards refuse it before parsing labels.)
    bad = next((char for char in label if not (char.isalnum() or char == "-")), None)
    if bad is not None:
        return f"'{bad}' is not allowed in a host name ('{label}'): use letters, digits and hyphens"
    return f"a label cannot start or end with a hyphen: '{label}'"


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _canonical_ipv4(host: str) -> str:
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        raise OriginError(
            f"'{host}' is not an IPv4 address: write four decimal numbers from 0 to 255 "
            f"without leading zeros, e.g. 192.168.0.1"
        ) from None


def _canonical_ipv6(text: str) -> str:
    if "%" in text:
        raise OriginError("browsers do not send IPv6 zone ids: remove the part from '%'")
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        raise OriginError(f"'[{text}]' is not a valid IPv6 address") from None
    if address.ipv4_mapped is not None:
        # Browsers print the last 32 bits in hex ("::ffff:102:304"); Python 3.13+ prints
        # them dotted, so build the form from the hextets whatever the Python version.
        high, low = divmod(int(address.ipv4_mapped), 0x10000)
        return f"[::ffff:{high:x}:{low:x}]"
    return f"[{address.compressed}]"


# --- Containment: can a pattern match an origin on a domain nobody named? ------------------
#
# A regex or wildcard rule is "contained" when every origin it can match, among the origins
# browsers send, is on a registrable domain (Public Suffix List, private section included)
# that the rule itself names literally, or on a host the rule spells out in full. This is
# decided exactly, by automaton intersection (interegular's FSMs): the rule's language,
# intersected with "a serialized origin", minus "an origin on a named domain", must be empty.
# Trying sample strings would miss whatever the samples did not think of.
#
# Only a subset of RE2 is analysed, the part where RE2 and the Python-syntax parser read a
# pattern the same way; anything else is refused with a message saying what to rewrite.

# The origins a browser can send (the engine's _ORIGIN_RE): lower-case scheme and host,
# optional port without leading zero.
_FSM_LABEL = r"[a-z0-9_\-]+"
_FSM_SCHEME = r"[a-z][a-z0-9+.\-]*://"
_FSM_PORT = r"(?::[1-9][0-9]{0,4})?"
_FSM_ORIGIN = _FSM_SCHEME + rf"(?:{_FSM_LABEL}(?:\.{_FSM_LABEL})*\.?|\[[0-9a-f:.]+\])" + _FSM_PORT
# The largest repetition count analysed: {n,m} builds n..m copies of the automaton, and no
# host label (63) or host (253) needs more.
MAX_ANALYSED_REPETITION = 253
_REPETITION = re.compile(r"\{([0-9]+)(?:(,)([0-9]*))?\}")
_ESCAPED_CLASSES = frozenset("dDwWsS")
_HOST_TOKEN = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\]")


@dataclass(frozen=True, slots=True)
class Escape:
    """An origin a rule matches although its domain is not named in the rule.

    `origin` is the shortest such origin (a concrete example for the message); `domain` is its
    registrable domain, or None when its host has none (a public suffix, an address, an
    unknown single label); `named` lists the registrable domains the rule does name.
    """

    origin: str
    domain: str | None
    named: tuple[str, ...]


@functools.lru_cache(maxsize=1024)
def containment_escape(pattern: str) -> Escape | None:
    """None when every origin `pattern` (an RE2 origin regex, full-match semantics, anchors
    optional) can match lies on a registrable domain it names literally, else an example of
    one that does not.

    Raises `OriginError` with code "regex-uncheckable" for a construct outside the analysed
    subset (flags, \\p classes, POSIX classes, \\Q...\\E, anchors inside the pattern,
    repetition counts above MAX_ANALYSED_REPETITION, escapes of letters other than
    \\d \\w \\s \\D \\W \\S), naming the construct and what to write instead.
    """
    body, runs = _analysable(pattern)
    try:
        rule = _fsm(body)
    except (interegular.Unsupported, interegular.InvalidSyntax) as exc:
        raise _uncheckable(f"its syntax ({exc or type(exc).__name__})") from None
    exact, named = _named(runs)
    matched = rule & _origin_fsm()
    if exact:
        matched = matched - _under(frozenset(exact), subdomains=False)
    escaped = _escaped(matched, named)
    if escaped is None:
        return None
    origin = _shortest(escaped)
    host = _SERIALISED_HOST.fullmatch(origin)
    domain = _public_suffix_list().privatesuffix(host.group(1)) if host else None
    return Escape(origin, domain, tuple(sorted(named)))


def _escaped(matched: Any, named: set[str]) -> Any | None:
    """The part of `matched` (origins) not on a registrable domain in `named`, or None.

    First without the Public Suffix List's entries below the named domains (one cheap
    subtraction), then, per named domain, only for the suffixes below it that `matched` can
    reach (found by walking the reversed automaton over each suffix, a few steps each): a
    host under `s3.amazonaws.com` is someone else's even though `amazonaws.com` is named.
    Within such a suffix only the named domains under it count, recursively.
    """
    outside = matched - _under(frozenset(named)) if named else matched
    if not outside.empty():
        return outside
    for domain in sorted(named):
        for suffix in _reachable_suffixes(matched, _suffixes_below(domain)):
            inside = matched & _under(frozenset({suffix}))
            escaped = _escaped(inside, {n for n in named if n.endswith("." + suffix)})
            if escaped is not None:
                return escaped
    return None


@functools.lru_cache(maxsize=256)
def _under(hosts: frozenset[str], *, subdomains: bool = True) -> Any:
    """Origins (any scheme and port) whose host is one of `hosts` or, with `subdomains`,
    under one of them; a trailing dot is the same host."""
    prefix = rf"(?:{_FSM_LABEL}\.)*" if subdomains else ""
    names = "|".join(prefix + re.escape(host) for host in sorted(hosts))
    return _fsm(_FSM_SCHEME + rf"(?:{names})\.?" + _FSM_PORT)


def _reachable_suffixes(matched: Any, suffixes: tuple[str, ...]) -> list[str]:
    """The `suffixes` such that `matched` accepts an origin whose host is the suffix or under
    it: read backwards, such an origin is an optional port, an optional dot, the suffix
    reversed, then '.' or '/'."""
    if not suffixes:
        return []
    backwards = matched.reversed()
    live: dict[Any, bool] = {}

    def is_live(state: Any) -> bool:
        if state not in live:
            live[state] = backwards.islive(state)
        return live[state]

    starts = {backwards.initial}
    digits = {backwards.initial}
    for _ in range(5):  # a port has at most five digits
        digits = {n for q in digits for c in "0123456789" if (n := _step(backwards, q, c))}
        starts |= {n for q in digits if (n := _step(backwards, q, ":")) is not None}
    starts |= {n for q in list(starts) if (n := _step(backwards, q, ".")) is not None}
    found = []
    for suffix in suffixes:
        for state in starts:
            current: Any = state
            for char in reversed(suffix):
                current = _step(backwards, current, char)
                if current is None:
                    break
            else:
                after = [_step(backwards, current, c) for c in "./"]
                if any(n is not None and is_live(n) for n in after):
                    found.append(suffix)
                    break
    return found


def _step(fsm: Any, state: Any, char: str) -> Any | None:
    """The state after reading `char`, or None when the automaton has no way on."""
    transition = fsm.alphabet[char]
    return fsm.map.get(state, {}).get(transition)


_SERIALISED_HOST = re.compile(r"[^:]+://([a-z0-9_.-]+?)\.?(?::[0-9]+)?")


def _uncheckable(what: str) -> OriginError:
    return OriginError(
        f"the pattern cannot be checked to stay inside your domains because of {what}: "
        "use literal host names, character classes such as [a-z0-9-], groups (...) or "
        "(?:...), alternatives |, and the repetitions * + ? {n,m}; or list exact origins",
        code="regex-uncheckable",
    )


def _analysable(pattern: str) -> tuple[str, list[str]]:
    """(the pattern without its outer anchors, its literal runs), or OriginError.

    A literal run is a maximal stretch of characters the pattern matches as written (escapes
    resolved); a character followed by a quantifier is not part of one, since it may be
    absent or repeated.
    """
    bodies = []
    for branch in _top_level_branches(pattern.strip()):
        bodies.append(_strip_anchors(branch))
    body = "|".join(bodies)
    runs: list[str] = []
    run: list[str] = []

    def cut(*, drop_last: bool = False) -> None:
        if drop_last and run:
            run.pop()
        if run:
            runs.append("".join(run))
        run.clear()

    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1 : index + 2]
            if escaped in _ESCAPED_CLASSES:
                cut()
            elif escaped.isascii() and not escaped.isalnum() and escaped.isprintable():
                run.append(escaped)
            else:
                raise _uncheckable(f"the escape \\{escaped}")
            index += 2
        elif char == "[":
            end = _class_end(body, index)
            _check_class(body[index:end])
            cut()
            index = end
        elif char == "(":
            if body.startswith("(?", index) and not body.startswith(("(?:", "(?P<"), index):
                raise _uncheckable(
                    "a group option such as (?i) (origins are lower case: write the pattern "
                    "in lower case)"
                )
            cut()
            index += 1
        elif char == "{":
            repetition = _REPETITION.match(body, index)
            if repetition is None:
                raise _uncheckable("a '{' that is not a repetition {n,m} (write \\{)")
            numbers = [int(n) for n in repetition.groups() if n and n != ","]
            if max(numbers) > MAX_ANALYSED_REPETITION:
                raise _uncheckable(
                    f"the repetition count {max(numbers)} (at most {MAX_ANALYSED_REPETITION})"
                )
            cut(drop_last=True)
            index = repetition.end()
        elif char in "*+?":
            cut(drop_last=True)
            index += 1
        elif char in "^$":
            raise _uncheckable(f"the anchor {char} inside the pattern (anchor only its ends)")
        elif char in ").|":
            cut()
            index += 1
        else:
            run.append(char)
            index += 1
    cut()
    return body, runs


def _check_class(text: str) -> None:
    """Refuse what RE2 and Python read differently inside [...]: POSIX classes, \\p."""
    if "[:" in text[1:]:
        raise _uncheckable(f"the POSIX class in {text} (write the characters, e.g. [a-z])")
    index = 1
    while index < len(text):
        if text[index] == "\\":
            escaped = text[index + 1 : index + 2]
            if escaped.isalnum() and escaped not in _ESCAPED_CLASSES:
                raise _uncheckable(f"the escape \\{escaped} in {text}")
            index += 2
        else:
            index += 1


def _named(runs: list[str]) -> tuple[set[str], set[str]]:
    """(host names spelled out in full, registrable domains named) in the literal runs."""
    psl = _public_suffix_list()
    exact: set[str] = set()
    named: set[str] = set()
    for run in runs:
        for token in _HOST_TOKEN.findall(run):
            exact.add(token)
            labels = token.split(".")
            if token.startswith("[") or labels[-1].isdigit():
                continue  # an address, not a name: only the exact host is named
            for index in range(len(labels)):
                suffix = ".".join(labels[index:])
                # localhost and its subdomains are this machine, whoever asks.
                if suffix == "localhost" or psl.privatesuffix(suffix) == suffix:
                    named.add(suffix)
    return exact, named


@functools.cache
def _origin_fsm() -> Any:
    return _fsm(_FSM_ORIGIN)


@functools.cache
def _suffixes_below(domain: str) -> tuple[str, ...]:
    """Public suffixes strictly under `domain` (rules `s3.amazonaws.com`, `*.elb.amazonaws.com`
    and exceptions, their leading `*.`/`!` removed)."""
    tail = "." + domain
    rules = _public_suffix_list()._publicsuffix
    found = {rule.lstrip("!").removeprefix("*.") for rule in rules if rule.endswith(tail)}
    return tuple(sorted(found - {domain}))


def _fsm(pattern: str) -> Any:
    return interegular.parse_pattern(pattern).to_fsm()


def _shortest(fsm: Any) -> str:
    """The shortest string `fsm` accepts, preferring letters, then digits, at each step."""
    live = {state for state in fsm.states if fsm.islive(state)}
    parent: dict[Any, tuple[Any, str] | None] = {fsm.initial: None}
    queue: collections.deque[Any] = collections.deque()
    state = fsm.initial
    # `fsm` accepts something, so the search reaches a final state before the queue empties.
    while state not in fsm.finals:
        best: dict[Any, str] = {}
        for transition, target in fsm.map.get(state, {}).items():
            symbols = [s for s in fsm.alphabet.by_transition[transition] if isinstance(s, str)]
            if target in live and target not in parent and symbols:
                symbol = min(symbols, key=_niceness)
                if target not in best or _niceness(symbol) < _niceness(best[target]):
                    best[target] = symbol
        for target, symbol in sorted(best.items(), key=lambda item: _niceness(item[1])):
            parent[target] = (state, symbol)
            queue.append(target)
        state = queue.popleft()
    text: list[str] = []
    step = parent[state]
    while step is not None:
        state, symbol = step
        text.append(symbol)
        step = parent[state]
    return "".join(reversed(text))


def _niceness(symbol: str) -> tuple[bool, bool, str]:
    return (not symbol.isalpha(), not symbol.isdigit(), symbol)
