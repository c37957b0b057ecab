"""Risk rules over a policy document (pure Python, no Django).

`lint_document` reads a schema-1 policy document (design.md, "The policy document") and returns
findings. The service layer refuses to publish a policy with an ERROR finding, so an ERROR is
reserved for what is exploitable or certainly broken; a WARNING is shown to the people editing
the policy and may be a deliberate choice; an INFO states a fact about how browsers read the
policy that people often get wrong, and asks nothing of them.

Every regex and wildcard origin rule is proved to stay inside the domains it names
(`policies.origins.containment_escape`: automaton intersection over the Public Suffix List),
so a rule that can match an origin on a domain nobody named is an ERROR, whoever wrote it.

Malformed input never crashes lint: a field of the wrong type gives an `invalid-field` ERROR
and is otherwise ignored. Only programming errors raise: a `document` that is not a mapping
(TypeError) or an unknown `environment` (ValueError).
"""

from __future__ import annotations

import enum
import ipaddress
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import re2

from policies.cors import SAFELISTED_METHODS, wildcard_to_regex
from policies.origins import (
    Escape,
    OriginError,
    canonical_origin,
    canonical_wildcard,
    containment_escape,
    scan_regex,
    validate_regex,
)

__all__ = [
    "ENVIRONMENTS",
    "Finding",
    "Severity",
    "escape_bare_dots",
    "has_errors",
    "lint_document",
    "lint_origin_regex",
    "lower_case_regex",
    "suggest_origin_regex",
]

ENVIRONMENTS = frozenset({"production", "staging", "development"})
SCHEMA = 1
# Chromium clamps Access-Control-Max-Age to 2 hours; Firefox to 24 hours.
BROWSER_MAX_AGE_CAP = 7200
MAX_AGE_HARD_CAP = 86400
FORBIDDEN_METHODS = frozenset({"CONNECT", "TRACE", "TRACK"})
# RFC 9110 tchar: anything else in a method or header name breaks the comma-separated
# Access-Control-Allow-* value, and browsers then fail every preflight.
_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal")
# A '.' followed by one of these is a deliberate "anything" ('.*', '.+'); an empty string is
# not a member, so a '.' at the very end counts as bare.
_QUANTIFIERS = frozenset("*+?{")


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    field: str
    value: str
    message: str
    fix: str


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(finding.severity is Severity.ERROR for finding in findings)


def lint_document(document: Mapping[str, Any], *, environment: str) -> list[Finding]:
    """Every finding for `document`, in a stable order (document order, then rule order)."""
    if not isinstance(document, Mapping):
        raise TypeError(f"a policy document is a mapping, not {type(document).__name__}")
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}: use {sorted(ENVIRONMENTS)}")
    policy = _read(document)
    findings = list(policy.findings)
    for check in _CHECKS:
        findings.extend(check(policy, environment))
    return findings


# --- Reading a document defensively -------------------------------------------------------


@dataclass(slots=True)
class _Policy:
    findings: list[Finding] = field(default_factory=list)
    exact: list[str] = field(default_factory=list)  # canonical values only
    wildcard: list[str] = field(default_factory=list)
    regex: list[tuple[str, Any]] = field(default_factory=list)  # (pattern, compiled)
    allow_all: bool = False
    allow_null: bool = False
    credentials: bool = False
    methods: list[str] = field(default_factory=list)
    request_headers: list[str] = field(default_factory=list)
    expose_headers: list[str] = field(default_factory=list)
    max_age: int | None = None

    def add(
        self, rule: str, severity: Severity, field: str, value: object, message: str, fix: str
    ) -> None:
        self.findings.append(Finding(rule, severity, field, _show(value), message, fix))

    def invalid(self, name: str, value: object, expected: str) -> None:
        # The finding's field is the one a form shows it on: origins.exact -> origins.
        self.add(
            "invalid-field",
            Severity.ERROR,
            name.partition(".")[0] if name.startswith("origins.") else name,
            value,
            f"{name} must be {expected}, not {type(value).__name__}.",
            f"Set {name} to {expected}.",
        )


def _show(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _read(document: Mapping[str, Any]) -> _Policy:
    policy = _Policy()
    schema = document.get("schema", SCHEMA)
    if schema != SCHEMA or isinstance(schema, bool):
        policy.add(
            "unsupported-schema",
            Severity.ERROR,
            "schema",
            schema,
            f"Schema {schema!r} is not one this linter understands; consumers refuse it too.",
            f"Publish schema {SCHEMA}.",
        )
    origins = document.get("origins")
    if origins is None:
        origins = {}
    elif not isinstance(origins, Mapping):
        policy.invalid("origins", origins, "an object with exact, wildcard and regex lists")
        origins = {}
    # A flag of the wrong type is read the way a careless consumer would (truthiness), so
    # the risk checks still see the worst case.
    for name in ("allow_all", "allow_null"):
        value = origins.get(name, False)
        if not isinstance(value, bool):
            policy.invalid(name, value, "true or false")
        setattr(policy, name, bool(value))
    credentials = document.get("allow_credentials", False)
    if not isinstance(credentials, bool):
        policy.invalid("allow_credentials", credentials, "true or false")
    policy.credentials = bool(credentials)

    _read_origins(policy, origins)
    policy.methods = _strings(policy, document, "methods")
    policy.request_headers = _strings(policy, document, "request_headers")
    policy.expose_headers = _strings(policy, document, "expose_headers")
    max_age = document.get("max_age")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int)):
        policy.invalid("max_age", max_age, "a whole number of seconds")
    elif max_age is not None:
        policy.max_age = max_age
    mode = document.get("mode", "enforce")
    if mode not in ("enforce", "report-only", "off"):
        policy.invalid("mode", mode, "one of enforce, report-only, off")
    _read_paths(policy, document.get("paths"))
    return policy


def _strings(
    policy: _Policy, container: Mapping[str, Any], name: str, label: str = ""
) -> list[str]:
    label = label or name
    values = container.get(name)
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, list | tuple):
        policy.invalid(label, values, "a list of strings")
        return []
    strings = [value for value in values if isinstance(value, str)]
    for value in values:
        if not isinstance(value, str):
            policy.invalid(label, value, "a string")
    return strings


def _read_origins(policy: _Policy, origins: Mapping[str, Any]) -> None:
    seen: dict[str, str] = {}  # canonical value -> the value as written first

    def unique(kind: str, written: str, canonical: str) -> bool:
        key = f"{kind} {canonical}"
        if key in seen:
            first = seen[key]
            same = "listed twice" if first == written else f"the same rule as {first!r}"
            policy.add(
                "duplicate-origin",
                Severity.WARNING,
                "origins",
                written,
                f"The {kind} rule {written!r} is {same}.",
                "Remove the duplicate.",
            )
            return False
        seen[key] = written
        return True

    for kind, canonicalise in (("exact", canonical_origin), ("wildcard", canonical_wildcard)):
        for value in _strings(policy, origins, kind, f"origins.{kind}"):
            try:
                canonical = canonicalise(value)
            except OriginError as exc:
                _origin_error(policy, value, exc)
                continue
            _check_canonical(policy, value, canonical)
            if unique(kind, value, canonical):
                getattr(policy, kind).append(canonical)

    for value in _strings(policy, origins, "regex", "origins.regex"):
        pattern = value.strip()
        try:
            validate_regex(value)
        except OriginError as exc:
            _origin_error(policy, value, exc)
            if exc.code != "regex-not-anchored":
                continue  # nothing more can be said about a pattern RE2 refuses
        _check_canonical(policy, value, pattern)
        if unique("regex", value, pattern):
            policy.regex.append((pattern, _compile(pattern)))


def _check_canonical(policy: _Policy, value: str, canonical: str) -> None:
    # Stored values are canonical; anything else means the document was not built by
    # corsadmin, and a consumer comparing raw strings would never match the browser's Origin.
    if value != canonical:
        policy.add(
            "origin-not-canonical",
            Severity.ERROR,
            "origins",
            value,
            f"{value!r} is not written the way browsers send it, so it may never match.",
            f"Write it as {canonical!r}.",
        )


_FIXES = {
    "invalid-origin": "Correct or remove this rule.",
    "wildcard-on-public-suffix": "Put the wildcard under a domain you control.",
    "regex-invalid": "Correct the pattern (RE2 syntax) or remove it.",
    "regex-not-anchored": "Start the pattern with ^ and end it with $.",
}


def _origin_error(policy: _Policy, value: str, exc: OriginError) -> None:
    message = exc.message[:1].upper() + exc.message[1:]
    # No full stop after a pattern or URL a person may copy.
    if message[-1].isalpha() or message[-1] in "')":
        message += "."
    fix = _FIXES.get(exc.code, _FIXES["invalid-origin"])
    policy.add(exc.code, Severity.ERROR, "origins", value, message, fix)


def _compile(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _read_paths(policy: _Policy, paths: object) -> None:
    if paths is None:
        return
    if not isinstance(paths, str):
        policy.invalid("paths", paths, "a regular expression or null")
        return
    try:
        _compile(paths)
    except (re2.error, UnicodeError):
        policy.add(
            "paths-invalid",
            Severity.ERROR,
            "paths",
            paths,
            "The paths pattern is not a valid RE2 regular expression, so no consumer can apply it.",
            "Correct the pattern, or clear it to apply the policy to every path.",
        )


# --- Rules ---------------------------------------------------------------------------------


def _check_credentials(policy: _Policy, environment: str) -> Iterator[Finding]:
    if not policy.credentials:
        return
    # ERROR: any website could read the responses with the user's cookies (the classic
    # CORS hole). The engine never answers '*' with credentials, but we refuse to save it.
    if policy.allow_all:
        yield Finding(
            "credentials-with-wildcard-origin",
            Severity.ERROR,
            "allow_all",
            "true",
            "Allow all origins together with credentials would let any website read "
            "responses with the user's cookies.",
            "Turn off allow all and list the origins, or turn off credentials.",
        )
    # WARNING, not ERROR: the engine echoes the one requesting origin (valid CORS), and
    # credentialed preview subdomains are a common, deliberate set-up (design.md's example).
    # The risk is a subdomain taken over (a dangling DNS record) or serving user content, so
    # saving needs an explicit confirmation.
    for wildcard in policy.wildcard:
        yield Finding(
            "credentials-with-wildcard-subdomains",
            Severity.WARNING,
            "origins",
            wildcard,
            f"With credentials, every host matching {wildcard} could read responses with the "
            "user's cookies, including a subdomain taken over or hosting user content.",
            "List the origins that need credentials as exact origins, or turn off credentials.",
        )
    # ERROR: any page can produce Origin: null (a sandboxed iframe is enough), so this is
    # the same hole as allow all.
    if policy.allow_null:
        yield Finding(
            "credentials-with-null-origin",
            Severity.ERROR,
            "allow_null",
            "true",
            "Allowing the null origin with credentials lets any website read responses with "
            "the user's cookies: a sandboxed iframe sends Origin: null.",
            "Turn off allow null; fix the redirect or sandbox that produced null instead.",
        )


def _check_origin_switches(policy: _Policy, environment: str) -> Iterator[Finding]:
    # WARNING: with credentials this is an ERROR above; without, it leaks only what any
    # page could read, but null hides where a request comes from.
    if policy.allow_null and not policy.credentials:
        yield Finding(
            "null-origin-allowed",
            Severity.WARNING,
            "allow_null",
            "true",
            "Origin null is sent by sandboxed iframes, file: pages and requests after a "
            "cross-origin redirect, so any website can claim it.",
            "Turn off allow null; fix the redirect or sandbox that produced null instead.",
        )
    if policy.allow_all and not policy.credentials:
        yield Finding(
            "allow-all-origins",
            Severity.WARNING,
            "allow_all",
            "true",
            "Every website can read this API's responses (without cookies).",
            "Keep allow all only for public data; otherwise list the origins.",
        )
    listed = len(policy.exact) + len(policy.wildcard) + len(policy.regex)
    if policy.allow_all and listed:
        yield Finding(
            "origins-ignored-by-allow-all",
            Severity.WARNING,
            "allow_all",
            "true",
            f"Allow all is on, so the {listed} listed origin rule(s) have no effect.",
            "Remove the listed origins or turn off allow all.",
        )
    if not policy.allow_all and not listed:
        yield Finding(
            "no-origins",
            Severity.WARNING,
            "origins",
            "",
            "No origin is listed, so every cross-origin request is refused.",
            "Add the origins of the web applications that call this API.",
        )


def _check_regexes(policy: _Policy, environment: str) -> Iterator[Finding]:
    for pattern, _ in policy.regex:
        yield from lint_origin_regex(pattern, credentials=policy.credentials)
    for wildcard in policy.wildcard:
        # origins.canonical_wildcard accepted it, so the engine does too (an invariant the
        # tests hold; were it broken, the DocumentError is a programming error and raises).
        escape = containment_escape(wildcard_to_regex(wildcard))
        if escape is not None:
            yield _escape_finding(wildcard, escape, credentials=policy.credentials)


def lint_origin_regex(pattern: str, *, credentials: bool) -> list[Finding]:
    """The findings for one origin regex (already valid RE2) on its own, in rule order.

    - `regex-unescaped-dot` (ERROR): a bare '.' matches any character;
    - `origin-outside-named-domains` (ERROR): the pattern can match an origin whose
      registrable domain it does not name (checked on the dot-escaped form when the only
      problem is the dots, so one cause gives one error);
    - `regex-uncheckable` (ERROR): a construct the containment proof cannot analyse;
    - `regex-upper-case` (WARNING): browsers send origins in lower case.
    Used by `import_cors` to check the replacement it suggests.
    """
    findings: list[Finding] = []
    bare = _bare_dots(pattern)
    checked = pattern
    if bare:
        # ERROR: `app.example\.com` also matches `appXexample.com`, which anyone can buy.
        checked = escape_bare_dots(pattern)
        before = pattern[max(0, bare[0] - 12) : bare[0]]
        findings.append(
            Finding(
                "regex-unescaped-dot",
                Severity.ERROR,
                "origins",
                pattern,
                f"The unescaped '.' after '{before}' matches any character, not only a dot, "
                "so the pattern matches hosts you do not own.",
                f"Escape it: {checked}",
            )
        )
    try:
        escape = containment_escape(checked)
    except OriginError as exc:
        findings.append(
            Finding(
                exc.code,
                Severity.ERROR,
                "origins",
                pattern,
                exc.message[:1].upper() + exc.message[1:] + ".",
                "Rewrite the pattern with the constructs named, or list exact origins.",
            )
        )
    else:
        if escape is not None:
            findings.append(_escape_finding(pattern, escape, credentials=credentials))
    lowered = lower_case_regex(pattern)
    if lowered != pattern:
        # WARNING: harmless but dead; browsers serialise scheme and host in lower case.
        findings.append(
            Finding(
                "regex-upper-case",
                Severity.WARNING,
                "origins",
                pattern,
                "Browsers send origins in lower case, so the upper-case letters in this "
                "pattern never match.",
                f"Write it in lower case: {lowered}",
            )
        )
    return findings


def _bare_dots(pattern: str) -> list[int]:
    """Indexes of each '.' that is syntax ("any character") and not a deliberate '.*', '.+'."""
    dots = [index for index, char in scan_regex(pattern) if char == "."]
    return [i for i in dots if pattern[i + 1 : i + 2] not in _QUANTIFIERS]


def escape_bare_dots(pattern: str) -> str:
    """`pattern` with each bare '.' (see `regex-unescaped-dot`) written as '\\.'."""
    bare = set(_bare_dots(pattern))
    return "".join("\\." if i in bare else char for i, char in enumerate(pattern))


def suggest_origin_regex(pattern: str) -> str | None:
    """A rewrite of an origin regex that lints without errors, or None when there is none.

    Lower case and escaped dots are the only rewrites (they never widen the pattern); a
    pattern that still matches origins outside the domains it names, or that RE2 refuses or
    that is not anchored, has no suggestion: its author must say what was meant.
    """
    candidate = escape_bare_dots(lower_case_regex(pattern.strip()))
    try:
        validate_regex(candidate)
    except OriginError:
        return None
    if has_errors(lint_origin_regex(candidate, credentials=True)):
        return None
    return candidate


def lower_case_regex(pattern: str) -> str:
    """`pattern` with its letters in lower case, escapes (\\D, \\W, \\S...) left as they are."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern[index] == "\\":
            out.append(pattern[index : index + 2])
            index += 2
        else:
            out.append(pattern[index].lower())
            index += 1
    return "".join(out)


def _escape_finding(rule: str, escape: Escape, *, credentials: bool) -> Finding:
    # ERROR in every environment and with or without credentials: the other site reads
    # whatever this API answers its pages (with credentials, as the signed-in user).
    owner = f"the domain {escape.domain}" if escape.domain else "a host"
    named = ", ".join(escape.named) if escape.named else "no domain"
    cookies = " with the user's cookies" if credentials else ""
    return Finding(
        "origin-outside-named-domains",
        Severity.ERROR,
        "origins",
        rule,
        f"The rule also matches {escape.origin}, on {owner} that it does not name (it names "
        f"{named}), so that site could read this API's responses{cookies}.",
        "Name each domain literally and let patterns vary only whole labels under it, e.g. "
        r"^https://[a-z0-9-]+\.example\.com$ or the wildcard https://*.example.com; "
        "list other sites as exact origins.",
    )


def _check_production_origins(policy: _Policy, environment: str) -> Iterator[Finding]:
    if environment != "production":
        return
    for origin in [*policy.exact, *policy.wildcard]:
        parts = urllib.parse.urlsplit(origin)
        host = (parts.hostname or "").removeprefix("*.")
        if _is_local(host):
            # WARNING: harmless to the API's users unless their own machine is hostile,
            # but it is development configuration leaking into production.
            yield Finding(
                "local-origin-in-production",
                Severity.WARNING,
                "origins",
                origin,
                f"{origin} is a local or private-network origin on a production API.",
                "Remove it from production; keep it on the development or staging API.",
            )
        elif parts.scheme == "http":
            yield _insecure(policy, origin)
    for pattern, _ in policy.regex:
        if pattern.startswith(("^http://", "^https?://", "^(http|https)://", "^(?:http|https)://")):
            yield _insecure(policy, pattern)


def _insecure(policy: _Policy, value: str) -> Finding:
    # Anyone on the network path of an http: page can inject script into it and act as that
    # origin. With credentials that exposes users' data (ERROR); without, only what the
    # API returns to anonymous callers anyway (WARNING).
    severity = Severity.ERROR if policy.credentials else Severity.WARNING
    return Finding(
        "insecure-origin-in-production",
        severity,
        "origins",
        value,
        f"{value} is served over plain http, so anyone on the network can act as it"
        + (" and read responses with the user's cookies." if policy.credentials else "."),
        "Use the https:// origin.",
    )


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_link_local or address.is_private


def _check_max_age(policy: _Policy, environment: str) -> Iterator[Finding]:
    max_age = policy.max_age
    if max_age is None:
        return
    value = str(max_age)
    if max_age < 0:
        yield Finding(
            "invalid-field",
            Severity.ERROR,
            "max_age",
            value,
            "max_age cannot be negative; browsers ignore the header and cache for 5 seconds.",
            f"Use a value from 1 to {BROWSER_MAX_AGE_CAP}.",
        )
    elif max_age > MAX_AGE_HARD_CAP:
        # ERROR: no browser honours it, and it would delay revocation as long as any does.
        yield Finding(
            "max-age-over-limit",
            Severity.ERROR,
            "max_age",
            value,
            f"max_age {max_age} is above the hard cap of {MAX_AGE_HARD_CAP} seconds.",
            f"Use {BROWSER_MAX_AGE_CAP} or less.",
        )
    elif max_age > BROWSER_MAX_AGE_CAP:
        yield Finding(
            "max-age-above-browser-cap",
            Severity.WARNING,
            "max_age",
            value,
            f"Chromium caps max_age at {BROWSER_MAX_AGE_CAP} seconds, while Firefox keeps a "
            f"preflight for {max_age}: a removed origin goes on working there that long.",
            f"Use {BROWSER_MAX_AGE_CAP} or less.",
        )
    elif max_age == 0:
        yield Finding(
            "max-age-zero",
            Severity.WARNING,
            "max_age",
            value,
            "max_age 0 makes browsers send a preflight before every request.",
            "Use a value such as 600 unless you are debugging.",
        )


def _check_lists(policy: _Policy, environment: str) -> Iterator[Finding]:
    lists = (
        ("methods", policy.methods),
        ("request_headers", policy.request_headers),
        ("expose_headers", policy.expose_headers),
    )
    for name, values in lists:
        for value in values:
            if value != "*" and (not value or not set(value) <= _TCHARS):
                yield Finding(
                    "invalid-token",
                    Severity.ERROR,
                    name,
                    value,
                    f"{value!r} is not a valid name, and one bad name makes browsers reject "
                    "the whole header.",
                    "Use letters, digits and hyphens only.",
                )
        if "*" in values and policy.credentials:
            # ERROR: with credentials browsers read '*' as a literal name, so the policy
            # silently allows nothing it meant to.
            yield Finding(
                "star-with-credentials",
                Severity.ERROR,
                name,
                "*",
                f"With credentials, '*' in {name} is a literal name, not a wildcard.",
                f"List the {name.replace('_', ' ')} explicitly.",
            )
    headers = {header.lower() for header in policy.request_headers}
    if "*" in headers and "authorization" not in headers and not policy.credentials:
        # WARNING: a frequent surprise; '*' never covers Authorization (Fetch).
        yield Finding(
            "star-does-not-cover-authorization",
            Severity.WARNING,
            "request_headers",
            "*",
            "'*' does not cover the Authorization header, so requests that send it fail "
            "their preflight.",
            "Add 'authorization' if callers send it.",
        )


def _check_methods(policy: _Policy, environment: str) -> Iterator[Finding]:
    listed = set(policy.methods)
    # HEAD is GET without a body: with GET listed, leaving HEAD out restricts nothing anyone
    # means to restrict.
    unstoppable = [
        method
        for method in sorted(SAFELISTED_METHODS)
        if method not in listed and not (method == "HEAD" and "GET" in listed)
    ]
    if unstoppable and "*" not in listed:
        # INFO: Fetch's CORS-preflight fetch never checks GET, HEAD or POST against
        # Access-Control-Allow-Methods (and simple requests are not preflighted at all).
        names = unstoppable[-1]
        if len(unstoppable) > 1:
            names = ", ".join(unstoppable[:-1]) + " and " + names
        yield Finding(
            "methods-cannot-stop-safelisted",
            Severity.INFO,
            "methods",
            ", ".join(policy.methods),
            f"Browsers send GET, HEAD and POST to an allowed origin whatever methods lists, so "
            f"leaving out {names} does not stop them.",
            "If the API must refuse them, its own authorisation must do it.",
        )
    for method in policy.methods:
        if method.upper() in FORBIDDEN_METHODS:
            # ERROR: fetch refuses these methods, so listing them only signals a copied
            # default (Kong's) that nobody reviewed.
            yield Finding(
                "forbidden-method",
                Severity.ERROR,
                "methods",
                method,
                f"Browsers never send {method.upper()}: fetch forbids it.",
                f"Remove {method}.",
            )
        elif method != "*" and method != method.upper():
            # WARNING: matching is case-sensitive; only DELETE, GET, HEAD, OPTIONS, POST
            # and PUT are upper-cased by browsers, so 'patch' and 'PATCH' are different.
            yield Finding(
                "method-not-uppercase",
                Severity.WARNING,
                "methods",
                method,
                f"Methods match case-sensitively: {method!r} does not allow "
                f"{method.upper()!r}, which is what pages almost always send.",
                f"Write {method.upper()!r}.",
            )


def _check_shadowed(policy: _Policy, environment: str) -> Iterator[Finding]:
    # WARNING: harmless, but a reviewer removing the broad rule will not expect the narrow
    # one to stop working, and one removing the narrow rule will not expect it to keep working.
    wildcards = [(rule, _compile(wildcard_to_regex(rule))) for rule in policy.wildcard]
    covers = wildcards + policy.regex
    for origin in policy.exact:
        cover = next((rule for rule, compiled in covers if compiled.fullmatch(origin)), None)
        if cover is not None:
            yield _shadowed(origin, cover)
    for wildcard in policy.wildcard:
        # `*.a.example.com` lies inside `*.example.com` exactly when one instance of it does.
        probe = wildcard.replace("*", "a", 1)
        cover = next(
            (
                rule
                for rule, compiled in wildcards
                if rule != wildcard and compiled.fullmatch(probe)
            ),
            None,
        )
        if cover is not None:
            yield _shadowed(wildcard, cover)


def _shadowed(value: str, cover: str) -> Finding:
    return Finding(
        "shadowed-origin",
        Severity.WARNING,
        "origins",
        value,
        f"{value} is already covered by the rule {cover}.",
        f"Remove {value}, or narrow {cover} if {value} is meant to be the only match.",
    )


_CHECKS = (
    _check_credentials,
    _check_origin_switches,
    _check_regexes,
    _check_production_origins,
    _check_shadowed,
    _check_methods,
    _check_lists,
    _check_max_age,
)
