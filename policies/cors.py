"""The CORS decision engine: (policy document, request) -> decision + response headers.

Pure Python (stdlib + ``re2``), no Django and nothing else from this project: the central
server's simulator and every consumer middleware (Django, WSGI, ASGI) share it.

It follows the WHATWG Fetch standard's CORS protocol (see ``cors-rules.md``). Where the
standard leaves a choice, the engine is strict and safe; each such choice is documented
where it is made. The main ones:

- A refused CORS request or preflight gets *no* CORS headers at all (only ``Vary``), never a
  reflected or "wrong" origin. A refused preflight gets status 403, an allowed one 200.
  A refused *actual* request is not blocked by the engine: the response simply lacks CORS
  headers, so the browser withholds it from the page. A same-origin request (browsers send
  ``Origin`` on same-origin POSTs too) is therefore never broken: it needs no CORS headers.
- ``allow_all`` is a static public answer: ``Access-Control-Allow-Origin: *`` on every
  response of the covered paths (with or without ``Origin``, whatever its value: ``*``
  reflects nothing), never credentials, and no ``Vary: Origin`` since nothing depends on the
  origin (Fetch "CORS protocol and HTTP caches"; without it a cached non-CORS response would
  lack ACAO for a later CORS request). Preflights are still checked (method, headers, PNA).
- Request origins are matched byte for byte against the document's canonical origins, then
  against one RE2 set of the wildcards and regexes (anchored at both ends). A request origin
  that is not a canonical serialized origin (as browsers send it) never matches.
- When credentials are allowed, ``*`` in methods, request headers and expose headers is
  literal for the browser, so it is ignored (neither matched nor emitted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import re2

__all__ = [
    "MAX_ORIGIN_LENGTH",
    "SAFELISTED_METHODS",
    "SCHEMA",
    "Code",
    "CompiledPolicy",
    "Decision",
    "DocumentError",
    "choose_policy",
    "compile_policy",
    "decide",
    "decide_without_policy",
    "merge_vary",
    "re2_error_text",
    "wildcard_to_regex",
]

MAX_ORIGIN_LENGTH: Final = 512
"""Longer ``Origin`` headers are refused before any matching (attacker-controlled input)."""

SCHEMA: Final = 1
"""The document schema this engine reads; any other is refused."""

MODES: Final = frozenset({"enforce", "report-only", "off"})

# Response header names, canonical capitalisation.
ACAO: Final = "Access-Control-Allow-Origin"
ACAC: Final = "Access-Control-Allow-Credentials"
ACAM: Final = "Access-Control-Allow-Methods"
ACAH: Final = "Access-Control-Allow-Headers"
ACEH: Final = "Access-Control-Expose-Headers"
ACMA: Final = "Access-Control-Max-Age"
ACAPN: Final = "Access-Control-Allow-Private-Network"
VARY: Final = "Vary"

VARY_ACTUAL: Final = "Origin"
VARY_PREFLIGHT: Final = (
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    "Access-Control-Request-Private-Network"
)
"""``Vary`` on every preflight answer.

Whether the request is a preflight at all depends on ``Origin`` and
``Access-Control-Request-Method``, and the answer (allowed or refused, and which origin is
echoed) depends on the origin, the method, the requested header names and whether private
network access is requested (it is refused when the policy does not allow it). A cache that
stores preflights (a CDN configured to cache ``OPTIONS``, cors-rules 11) must key on all of
them, or it serves one origin's or one method's answer to another.
"""

SAFELISTED_METHODS: Final = frozenset({"GET", "HEAD", "POST"})
"""Fetch "CORS-safelisted method": a preflight's method check always passes for these (they
are matched case-sensitively, as browsers send them upper-cased), so a policy's ``methods``
cannot stop them: the service's own authorisation must."""

_PREFLIGHT_STATUS_OK: Final = 200
_PREFLIGHT_STATUS_REFUSED: Final = 403

# A serialized origin exactly as a browser sends it: lower-case scheme and host, IDN hosts in
# punycode, optional port without leading zeros, no userinfo, path, query or fragment. The
# host is a domain or IPv4 address (a trailing dot is a different origin, so it is allowed
# here and simply matches nothing unless listed) or a bracketed IPv6 address.
_ORIGIN_RE: Final = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://"
    r"(?P<host>[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[1-9][0-9]{0,4}))?"
)
# The same, but case-insensitive and with any port and an optional trailing slash: what a
# document may contain before it is canonicalised (compile time only).
_LOOSE_ORIGIN_RE: Final = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://"
    r"(?P<host>[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?/?",
    re.IGNORECASE | re.ASCII,
)
_WILDCARD_RE: Final = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://\*\."
    r"(?P<domain>[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)"
    r"(?::(?P<port>[0-9]{1,5}))?/?",
    re.IGNORECASE | re.ASCII,
)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
# RFC 9110 token: methods and header names.
_TOKEN_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_WILDCARD_LABELS: Final = r"(?:[a-z0-9-]+\.)+"

_MEMO_SIZE: Final = 2048
_MEMO_KEY_LENGTH: Final = 256
"""Bounded memo of path and origin-pattern results per policy (cleared when full; only
keys up to _MEMO_KEY_LENGTH characters), so repeated paths and wildcard-matched origins cost
one dict lookup instead of an RE2 pass (about 0.6 us each)."""

_NOT_CANONICAL: Final = -2
_NO_MATCH: Final = -1


class Code(StrEnum):
    """Stable, machine-readable outcome of a decision, beside its human ``reason``.

    Consumers count refusals by code and dashboards group by it; the English ``reason`` may
    be reworded between versions, these values may not. In ``report-only`` mode the code is
    the one enforce would give.
    """

    ALLOWED = "allowed"
    """A CORS request or preflight is granted its CORS headers."""
    NOT_CORS = "not-cors"
    """No ``Origin`` header: not a CORS request, nothing to decide (``Vary`` only, or the
    static ``*`` answer of ``allow_all``)."""
    OUTSIDE_PATHS = "outside-paths"
    """The policy's ``paths`` do not cover the request's path: passed through untouched."""
    MODE_OFF = "mode-off"
    """The policy's mode is ``off``: passed through untouched."""
    NO_POLICY = "no-policy"
    """The consumer has no policy document for the API (cold start): refused."""
    ORIGIN_NOT_ALLOWED = "origin-not-allowed"
    """The origin is not allowed (including malformed, over-long and ``null`` origins)."""
    METHOD_NOT_ALLOWED = "method-not-allowed"
    """A preflight's ``Access-Control-Request-Method`` is not allowed."""
    HEADER_NOT_ALLOWED = "header-not-allowed"
    """A name in a preflight's ``Access-Control-Request-Headers`` is not allowed."""
    PRIVATE_NETWORK_NOT_ALLOWED = "private-network-not-allowed"
    """A preflight requests private network access and the policy does not allow it."""


class DocumentError(ValueError):
    """A policy document that is malformed or of an unknown schema; the message says what."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one request.

    ``applies`` is False when the policy does not cover the request (path not matched, or
    mode ``off``): the middleware passes it through untouched. Otherwise ``headers`` are the
    CORS response headers to set (``Vary`` included, to be merged with ``merge_vary``);
    ``allowed`` is False when a CORS request or preflight is refused; ``status`` is the status
    a preflight answer must have (200 or 403), None for any other request. ``mode`` is the
    policy's mode: in ``report-only`` the decision is exactly the enforce one and the
    middleware decides what to apply. ``code`` is the stable machine-readable outcome (a
    ``Code``, which is a ``str``); ``reason`` the human explanation, which may be reworded.
    """

    allowed: bool
    preflight: bool
    headers: dict[str, str]
    reason: str
    status: int | None
    applies: bool
    origin: str | None
    mode: str
    code: str = Code.ALLOWED


_new = object.__new__
(
    _set_allowed,
    _set_preflight,
    _set_headers,
    _set_reason,
    _set_status,
    _set_applies,
    _set_origin,
    _set_mode,
    _set_code,
) = (
    Decision.__dict__[name].__set__
    for name in (
        "allowed",
        "preflight",
        "headers",
        "reason",
        "status",
        "applies",
        "origin",
        "mode",
        "code",
    )
)


def _decision(
    *,
    allowed: bool,
    preflight: bool,
    headers: dict[str, str],
    reason: str,
    status: int | None,
    applies: bool,
    origin: str | None,
    mode: str,
    code: str,
) -> Decision:
    """``Decision(...)``, about twice as fast: decide() builds one on every request.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per field; the
    slot descriptors set the same fields directly. The result is an ordinary ``Decision``
    (equality, repr and immutability unchanged).
    """
    decision: Decision = _new(Decision)
    _set_allowed(decision, allowed)
    _set_preflight(decision, preflight)
    _set_headers(decision, headers)
    _set_reason(decision, reason)
    _set_status(decision, status)
    _set_applies(decision, applies)
    _set_origin(decision, origin)
    _set_mode(decision, mode)
    _set_code(decision, code)
    return decision


class _Memo:
    """A tiny bounded memo (a dict cleared when full); safe to share between threads."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[str, int] = {}

    def get(self, key: str) -> int | None:
        return self._data.get(key)

    def put(self, key: str, value: int) -> None:
        data = self._data
        if len(data) >= _MEMO_SIZE:
            data.clear()
        data[key] = value


def _show(value: str) -> str:
    """A request value as it may appear in a reason: plain if tame, else quoted and cut."""
    if len(value) <= 100 and value.isascii() and value.isprintable() and " " not in value:
        return value
    shown = repr(value[:100])
    return shown + "..." if len(value) > 100 else shown


def _is_canonical_origin(value: str) -> bool:
    """True when ``value`` is a serialized origin exactly as a browser sends it."""
    match = _ORIGIN_RE.fullmatch(value)
    if match is None:
        return False
    port = match.group("port")
    if port is None:
        return True
    number = int(port)
    return number <= 65535 and _DEFAULT_PORTS.get(match.group("scheme")) != number


def _canonical_port(scheme: str, port: str | None, where: str) -> str:
    """``:port`` without leading zeros, or "" for no port or the scheme's default port."""
    if port is None:
        return ""
    number = int(port)
    if not 0 < number <= 65535:
        raise DocumentError(f"{where}: port {port} is out of range")
    if _DEFAULT_PORTS.get(scheme) == number:
        return ""
    return f":{number}"


def _canonical_origin(value: str, where: str) -> str:
    """The canonical form of a configured exact origin.

    Documents store canonical origins already; harmless variants of the *same* origin (upper
    case, an explicit default port, a trailing slash) are canonicalised so that they match
    what browsers send. Anything else (a path, userinfo, a non-ASCII host, ``null``) is a
    malformed document.
    """
    if value == "null":
        raise DocumentError(f"{where}: 'null' is not an origin to list; use origins.allow_null")
    if not value.isascii():
        raise DocumentError(f"{where}: {value!r} must be ASCII (IDN hosts in punycode)")
    match = _LOOSE_ORIGIN_RE.fullmatch(value)
    if match is None:
        raise DocumentError(
            f"{where}: {value!r} is not a serialized origin (scheme://host[:port], no path)"
        )
    scheme = match.group("scheme").lower()
    host = match.group("host").lower()
    canonical = f"{scheme}://{host}{_canonical_port(scheme, match.group('port'), where)}"
    if not _is_canonical_origin(canonical):  # pragma: no cover - the regexes agree
        raise DocumentError(f"{where}: {value!r} is not a serialized origin")
    return canonical


def wildcard_to_regex(pattern: str) -> str:
    """The full-match RE2 regex for an origin wildcard such as ``https://*.example.com``.

    ``*`` stands for ONE OR MORE DNS labels (``[a-z0-9-]+`` separated by dots) and must be
    the whole leftmost label; the rest is escaped, so the scheme and port must be the same
    (no port in the pattern means no port in the origin; an explicit default port is
    dropped, as browsers drop it). It never matches the bare domain (``https://example.com``)
    nor a longer name ending the same way (``https://evilexample.com``). The result is
    anchored with ``^...$`` (RE2: ``$`` is the end of text) and lower-case.

    Public suffixes (``*.co.uk``) are refused by the central server's validation, which has
    the public suffix list; this engine refuses the obvious ones, a single-label domain other
    than ``localhost`` (``*.com``). Raises ``DocumentError`` (a ``ValueError``) when the
    pattern is not of that shape.
    """
    if not pattern.isascii():
        raise DocumentError(f"wildcard {pattern!r} must be ASCII (IDN hosts in punycode)")
    match = _WILDCARD_RE.fullmatch(pattern)
    if match is None:
        raise DocumentError(
            f"wildcard {pattern!r} is not of the form scheme://*.domain[:port] "
            "(the * must be the whole leftmost label)"
        )
    scheme = match.group("scheme").lower()
    domain = match.group("domain").lower()
    if "." not in domain and domain != "localhost":
        raise DocumentError(f"wildcard {pattern!r} covers a whole top-level domain")
    port = _canonical_port(scheme, match.group("port"), f"wildcard {pattern!r}")
    # Only "." (domain) and "." / "+" (scheme) are special among the characters allowed here.
    scheme = scheme.replace(".", r"\.").replace("+", r"\+")
    domain = domain.replace(".", r"\.")
    return f"^{scheme}://{_WILDCARD_LABELS}{domain}{port}$"


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # errors are raised as DocumentError, not printed by RE2
    options.never_capture = True
    return options


def _compile_regex(pattern: str, where: str) -> None:
    try:
        re2.compile(pattern, _re2_options())
    except re2.error as exc:
        detail = re2_error_text(exc)
        raise DocumentError(f"{where}: {pattern!r} is not a valid RE2 regex: {detail}") from exc


def re2_error_text(exc: BaseException) -> str:
    """The message of an ``re2.error``: RE2 gives bytes, Python code may give text or none."""
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):
        return detail.decode("utf-8", "replace")
    return str(detail)


def _get(mapping: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in mapping:
        raise DocumentError(f"missing key {where}{key}")
    value = mapping[key]
    if isinstance(value, bool) and kind is not bool:
        raise DocumentError(f"{where}{key} must be {_kind_name(kind)}, not a boolean")
    if not isinstance(value, kind):
        raise DocumentError(f"{where}{key} must be {_kind_name(kind)}, not {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {bool: "a boolean", int: "an integer", str: "a string", list: "a list"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, "an object" if k is Mapping else "null") for k in kinds)


def _strings(mapping: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = _get(mapping, key, (list, tuple), where)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise DocumentError(f"{where}{key}[{index}] must be a string")
    return list(value)


def _tokens(values: Iterable[str], what: str) -> list[str]:
    """Validated, de-duplicated (order kept) method or header names."""
    seen: dict[str, None] = {}
    for value in values:
        if not _TOKEN_RE.fullmatch(value):
            raise DocumentError(f"{what}: {value!r} is not a valid name")
        seen.setdefault(value, None)
    return list(seen)


class CompiledPolicy:
    """A policy document compiled once for fast decisions; treat it as immutable.

    Exact origins live in a frozenset, wildcards and regexes in ONE ``re2.Set`` anchored at
    both ends, so deciding costs O(1) in the number of exact origins and one RE2 pass for
    the patterns. Header values are pre-joined. Build it with ``compile_policy``.
    """

    __slots__ = (
        "_actual_extra",
        "_exact",
        "_label",
        "_methods",
        "_methods_any",
        "_methods_star_ignored",
        "_origin_memo",
        "_path_memo",
        "_paths_set",
        "_pattern_names",
        "_patterns",
        "_preflight_extra",
        "_request_headers",
        "_request_headers_any",
        "_request_headers_star_ignored",
        "_static_actual",
        "_static_preflight",
        "allow_all",
        "allow_null",
        "allow_private_network",
        "api",
        "credentialed",
        "document",
        "mode",
        "paths",
        "version",
    )

    def __init__(self, document: Mapping[str, Any]) -> None:
        if not isinstance(document, Mapping):
            raise DocumentError(
                f"a policy document is a JSON object, not {type(document).__name__}"
            )
        schema = _get(document, "schema", int, "")
        if schema != SCHEMA:
            raise DocumentError(f"unknown schema {schema}: this consumer reads schema {SCHEMA}")
        self.document: Mapping[str, Any] = document
        self.api: str = _get(document, "api", str, "")
        if not self.api:
            raise DocumentError("api must not be empty")
        self.version: int = _get(document, "version", int, "")
        self.mode: str = _get(document, "mode", str, "")
        if self.mode not in MODES:
            raise DocumentError(f"unknown mode {self.mode!r}: expected enforce, report-only or off")
        self._label = f"{self.api} v{self.version}"

        paths = _get(document, "paths", (str, type(None)), "")
        self.paths: str | None = paths or None
        self._paths_set: Any = None
        if self.paths is not None:
            _compile_regex(self.paths, "paths")
            self._paths_set = re2.Set.SearchSet(_re2_options())
            self._paths_set.Add(self.paths)
            self._paths_set.Compile()

        origins = _get(document, "origins", Mapping, "")
        self.allow_all: bool = _get(origins, "allow_all", bool, "origins.")
        self.allow_null: bool = _get(origins, "allow_null", bool, "origins.")
        self._exact = frozenset(
            _canonical_origin(value, f"origins.exact[{index}]")
            for index, value in enumerate(_strings(origins, "exact", "origins."))
        )
        patterns: list[str] = []
        names: list[str] = []
        for value in _strings(origins, "wildcard", "origins."):
            patterns.append(wildcard_to_regex(value))
            names.append(f"wildcard {value}")
        for index, value in enumerate(_strings(origins, "regex", "origins.")):
            _compile_regex(value, f"origins.regex[{index}]")
            patterns.append(value)
            names.append(f"regex {value}")
        self._pattern_names = tuple(names)
        self._patterns: Any = None
        if patterns:
            self._patterns = re2.Set.FullMatchSet(_re2_options())
            for pattern in patterns:
                self._patterns.Add(pattern)
            self._patterns.Compile()

        allow_credentials = _get(document, "allow_credentials", bool, "")
        # allow_all answers "*", which never carries credentials: the policy is then
        # uncredentialed whatever allow_credentials says (the classic hole is echoing any
        # origin with credentials).
        self.credentialed: bool = allow_credentials and not self.allow_all
        self.allow_private_network: bool = _get(document, "allow_private_network", bool, "")
        # Absent or null: no Access-Control-Max-Age, so browsers cache for their default 5 s.
        # Any integer, 0 included ("do not cache": a preflight before every request), is sent
        # as written; browsers clamp large values themselves (Chromium 7200 s) and lint
        # refuses to publish above 86400.
        max_age = None
        if document.get("max_age") is not None:
            max_age = _get(document, "max_age", int, "")
            if max_age < 0:
                raise DocumentError("max_age must not be negative")

        methods = _tokens(_strings(document, "methods", ""), "methods")
        request_headers = [
            name.lower()
            for name in _tokens(_strings(document, "request_headers", ""), "request_headers")
        ]
        request_headers = list(dict.fromkeys(request_headers))
        expose_headers = _tokens(_strings(document, "expose_headers", ""), "expose_headers")
        # With credentials, "*" is a literal name for the browser, never a wildcard: ignore it
        # rather than match or emit a value that grants nothing.
        self._methods_star_ignored = self.credentialed and "*" in methods
        self._request_headers_star_ignored = self.credentialed and "*" in request_headers
        if self.credentialed:
            methods = [m for m in methods if m != "*"]
            request_headers = [h for h in request_headers if h != "*"]
            expose_headers = [h for h in expose_headers if h != "*"]
        self._methods = frozenset(methods)
        self._methods_any = "*" in self._methods
        self._request_headers = frozenset(request_headers)
        self._request_headers_any = "*" in self._request_headers

        actual: dict[str, str] = {}
        preflight: dict[str, str] = {}
        if self.credentialed:
            actual[ACAC] = preflight[ACAC] = "true"
        if expose_headers:
            actual[ACEH] = ", ".join(expose_headers)
        if methods:
            preflight[ACAM] = ", ".join(methods)
        if request_headers:
            preflight[ACAH] = ", ".join(request_headers)
        if max_age is not None:
            preflight[ACMA] = str(max_age)
        self._actual_extra = actual
        self._preflight_extra = preflight
        self._static_actual = {ACAO: "*", **actual}
        self._static_preflight = {ACAO: "*", **preflight}
        self._path_memo = _Memo()
        self._origin_memo = _Memo()

    def __repr__(self) -> str:
        return f"<CompiledPolicy {self._label} {self.mode}>"

    def covers_path(self, path: str) -> bool:
        """Whether ``paths`` (RE2, search semantics: anywhere in the path) matches ``path``."""
        if self._paths_set is None:
            return True
        memo = self._path_memo.get(path)
        if memo is not None:
            return memo == 1
        found = self._paths_set.Match(path.encode("utf-8", "surrogatepass")) is not None
        if len(path) <= _MEMO_KEY_LENGTH:
            self._path_memo.put(path, int(found))
        return found

    def _pattern_index(self, origin: str) -> int:
        """Index of the first wildcard/regex matching ``origin``, or a negative code."""
        memo = self._origin_memo.get(origin)
        if memo is not None:
            return memo
        if not _is_canonical_origin(origin):
            result = _NOT_CANONICAL
        elif self._patterns is None:
            result = _NO_MATCH
        else:
            found = self._patterns.Match(origin)
            result = min(found) if found else _NO_MATCH
        if len(origin) <= _MEMO_KEY_LENGTH:
            self._origin_memo.put(origin, result)
        return result

    def _check_origin(self, origin: str) -> str | None:
        """None when ``origin`` may read responses, else the reason it is refused."""
        if len(origin) > MAX_ORIGIN_LENGTH:
            return (
                f"origin header of {len(origin)} characters is not allowed by {self._label}: "
                f"longer than {MAX_ORIGIN_LENGTH}, refused before matching"
            )
        if origin in self._exact:
            return None
        if origin == "null":
            if self.allow_null:
                return None
            return (
                f"origin null is not allowed by {self._label} (sandboxed iframes, file: and "
                "data: documents and cross-origin redirects send it; allow_null is off)"
            )
        index = self._pattern_index(origin)
        if index >= 0:
            return None
        if index == _NOT_CANONICAL:
            return (
                f"origin {_show(origin)} is not allowed by {self._label}: not a serialized "
                "origin as browsers send it (lower-case scheme://host[:port], no default "
                "port, no path)"
            )
        return f"origin {_show(origin)} is not allowed by {self._label}"

    def _why_allowed(self, origin: str) -> str:
        if self.allow_all:
            return "allow_all: answered *, never with credentials"
        if origin in self._exact:
            return "exact origin"
        if origin == "null":
            return "allow_null"
        return self._pattern_names[self._pattern_index(origin)]

    def allows_origin(self, origin: str) -> bool:
        """Whether a CORS request from ``origin`` gets ``Access-Control-Allow-Origin``."""
        return self.allow_all or self._check_origin(origin) is None

    def decide(self, method: str, path: str, headers: Mapping[str, str]) -> Decision:
        """See the module-level ``decide``."""
        origin = _header(headers, "origin", "Origin")
        preflight = (
            origin is not None
            and method == "OPTIONS"
            and _header(headers, "access-control-request-method", "Access-Control-Request-Method")
            is not None
        )
        if self.mode == "off":
            return _decision(
                allowed=True,
                preflight=preflight,
                headers={},
                reason=f"{self._label} is off: no CORS headers",
                status=None,
                applies=False,
                origin=origin,
                mode=self.mode,
                code=Code.MODE_OFF,
            )
        if not self.covers_path(path):
            return _decision(
                allowed=True,
                preflight=preflight,
                headers={},
                reason=f"path {_show(path)} is not covered by {self._label} (paths {self.paths})",
                status=None,
                applies=False,
                origin=origin,
                mode=self.mode,
                code=Code.OUTSIDE_PATHS,
            )
        if origin is None:
            if self.allow_all:
                # A static answer: the same headers with or without Origin, and no Vary.
                return _decision(
                    allowed=True,
                    preflight=False,
                    headers=dict(self._static_actual),
                    reason=(
                        f"no Origin header: not a CORS request; {self._label} allows all "
                        "origins, so the static answer * is sent without Vary"
                    ),
                    status=None,
                    applies=True,
                    origin=None,
                    mode=self.mode,
                    code=Code.NOT_CORS,
                )
            return _decision(
                allowed=True,
                preflight=False,
                headers={VARY: VARY_ACTUAL},
                reason="no Origin header: not a CORS request",
                status=None,
                applies=True,
                origin=None,
                mode=self.mode,
                code=Code.NOT_CORS,
            )
        if preflight:
            return self._decide_preflight(origin, headers)

        if self.allow_all:
            return _decision(
                allowed=True,
                preflight=False,
                headers=dict(self._static_actual),
                reason=f"origin {_show(origin)} is allowed by {self._label} (allow_all: *)",
                status=None,
                applies=True,
                origin=origin,
                mode=self.mode,
                code=Code.ALLOWED,
            )
        refusal = self._check_origin(origin)
        if refusal is not None:
            return _decision(
                allowed=False,
                preflight=False,
                headers={VARY: VARY_ACTUAL},
                reason=refusal,
                status=None,
                applies=True,
                origin=origin,
                mode=self.mode,
                code=Code.ORIGIN_NOT_ALLOWED,
            )
        return _decision(
            allowed=True,
            preflight=False,
            headers={ACAO: origin, **self._actual_extra, VARY: VARY_ACTUAL},
            reason=f"origin {origin} is allowed by {self._label} ({self._why_allowed(origin)})",
            status=None,
            applies=True,
            origin=origin,
            mode=self.mode,
            code=Code.ALLOWED,
        )

    def _refuse_preflight(self, origin: str, reason: str, code: Code) -> Decision:
        return _decision(
            allowed=False,
            preflight=True,
            headers={VARY: VARY_PREFLIGHT},
            reason=reason,
            status=_PREFLIGHT_STATUS_REFUSED,
            applies=True,
            origin=origin,
            mode=self.mode,
            code=code,
        )

    def _decide_preflight(self, origin: str, headers: Mapping[str, str]) -> Decision:
        if not self.allow_all:
            refusal = self._check_origin(origin)
            if refusal is not None:
                return self._refuse_preflight(
                    origin, "preflight refused: " + refusal, Code.ORIGIN_NOT_ALLOWED
                )
        shown = _show(origin)

        method = (
            _header(headers, "access-control-request-method", "Access-Control-Request-Method") or ""
        ).strip(" \t")
        refusal = self._check_method(method)
        if refusal is not None:
            return self._refuse_preflight(
                origin, f"preflight from {shown} refused: {refusal}", Code.METHOD_NOT_ALLOWED
            )

        raw = _header(headers, "access-control-request-headers", "Access-Control-Request-Headers")
        if raw:
            refusal = self._check_request_headers(raw)
            if refusal is not None:
                return self._refuse_preflight(
                    origin, f"preflight from {shown} refused: {refusal}", Code.HEADER_NOT_ALLOWED
                )

        pna = _header(
            headers,
            "access-control-request-private-network",
            "Access-Control-Request-Private-Network",
        )
        pna_requested = pna is not None and pna.strip(" \t") == "true"
        if pna_requested and not self.allow_private_network:
            return self._refuse_preflight(
                origin,
                f"preflight from {shown} refused: private network access is requested but "
                f"{self._label} does not allow it (allow_private_network is off)",
                Code.PRIVATE_NETWORK_NOT_ALLOWED,
            )

        if self.allow_all:
            response = dict(self._static_preflight)
        else:
            response = {ACAO: origin, **self._preflight_extra}
        if pna_requested:
            response[ACAPN] = "true"
        response[VARY] = VARY_PREFLIGHT
        return _decision(
            allowed=True,
            preflight=True,
            headers=response,
            reason=(
                f"preflight from {shown} for {_show(method)} is allowed by {self._label} "
                f"({self._why_allowed(origin)})"
            ),
            status=_PREFLIGHT_STATUS_OK,
            applies=True,
            origin=origin,
            mode=self.mode,
            code=Code.ALLOWED,
        )

    def _check_method(self, method: str) -> str | None:
        """None when the requested method is allowed (case-sensitive), else why not.

        A CORS-safelisted method (``GET``, ``HEAD``, ``POST``, byte for byte) always passes:
        Fetch's CORS-preflight fetch never checks it against ``Access-Control-Allow-Methods``,
        so a browser sends it whatever the policy lists, and refusing its preflight (sent for
        a custom header or a JSON body) only breaks requests the policy otherwise allows.
        """
        if method in self._methods or method in SAFELISTED_METHODS:
            return None
        if not method:
            return "empty Access-Control-Request-Method"
        if self._methods_any and _TOKEN_RE.fullmatch(method):
            return None
        allowed = ", ".join(sorted(self._methods)) or "none"
        reason = f"method {_show(method)} is not allowed by {self._label} (allowed: {allowed})"
        if method.upper() in self._methods or method.upper() in SAFELISTED_METHODS:
            reason += (
                f"; methods are case-sensitive and browsers upper-case only DELETE, GET, "
                f"HEAD, OPTIONS, POST and PUT: send {method.upper()}"
            )
        elif self._methods_star_ignored:
            reason += "; '*' is ignored when credentials are allowed: list methods explicitly"
        return reason

    def _check_request_headers(self, raw: str) -> str | None:
        """None when every name in Access-Control-Request-Headers is allowed, else why not.

        Parsed leniently: split on commas, strip, lower-case, drop empty items.
        """
        allowed = self._request_headers
        wildcard = self._request_headers_any
        for item in raw.split(","):
            name = item.strip(" \t").lower()
            if not name or name in allowed:
                continue
            if wildcard and name != "authorization" and _TOKEN_RE.fullmatch(name):
                continue
            listed = ", ".join(sorted(allowed)) or "none"
            reason = (
                f"request header {_show(name)} is not allowed by {self._label} (allowed: {listed})"
            )
            if wildcard and name == "authorization":
                reason += "; '*' never covers authorization: list it explicitly"
            elif self._request_headers_star_ignored:
                reason += (
                    "; '*' is ignored when credentials are allowed: list header names explicitly"
                )
            return reason
        return None


def _header(headers: Mapping[str, str], lower: str, title: str) -> str | None:
    """The value of a request header whatever the case of the mapping's keys."""
    value = headers.get(lower)
    if value is None:
        value = headers.get(title)
        if value is None:
            size = len(lower)
            for key in headers:
                if len(key) == size and key.lower() == lower:
                    return headers[key]
    return value


def compile_policy(document: Mapping[str, Any]) -> CompiledPolicy:
    """Validate and compile a policy document; raise ``DocumentError`` if it is malformed.

    Checks the schema first (``unknown schema 2: this consumer reads schema 1``), then every
    required key and its type, that regexes compile with RE2 and wildcards have the allowed
    shape. Unknown keys are ignored. Never raises ``KeyError``/``TypeError``.
    """
    try:
        return CompiledPolicy(document)
    except DocumentError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, re2.error) as exc:
        raise DocumentError(f"malformed policy document: {exc}") from exc


def decide(
    policy: CompiledPolicy | Mapping[str, Any],
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
) -> Decision:
    """Decide what CORS headers a request gets under ``policy``.

    ``headers`` are the request's headers, keys in any case. A document mapping is compiled
    on the fly (raising ``DocumentError`` if malformed); hot paths pass a ``CompiledPolicy``.
    Never raises on arbitrary header text.

    - mode ``off`` or path not covered: ``applies=False``, no headers.
    - no ``Origin``: not a CORS request; ``Vary: Origin`` (or, with ``allow_all``, the static
      ``*`` answer without ``Vary``).
    - preflight (``OPTIONS`` + ``Origin`` + ``Access-Control-Request-Method``): origin, then
      method (case-sensitive), then each requested header name, then private network
      access; 200 with ACAO (+ACAC), ACAM, ACAH, max-age (whenever the document sets
      one, 0 included) and ACAPN (when requested and allowed), or 403 with only ``Vary``.
      ``GET``, ``HEAD`` and ``POST`` always pass the method check (Fetch: safelisted).
    - otherwise (an actual request): ACAO (+ACAC), ACEH when configured, ``Vary: Origin``;
      or only ``Vary: Origin`` when refused.
    """
    compiled = policy if isinstance(policy, CompiledPolicy) else compile_policy(policy)
    return compiled.decide(method, path, headers)


def decide_without_policy(*, method: str, path: str, headers: Mapping[str, str]) -> Decision:
    """The decision when a consumer has no policy document for the API (a cold start).

    Nothing falls open: a CORS request or preflight is refused (a preflight with status
    403) with no CORS headers, only ``Vary``; a request without ``Origin`` needs nothing and
    passes (``allowed`` True). ``code`` is always ``Code.NO_POLICY`` and ``mode`` "enforce".
    ``path`` is accepted for symmetry with ``decide`` and named in the reason. Never raises.
    """
    origin = _header(headers, "origin", "Origin")
    preflight = (
        origin is not None
        and method == "OPTIONS"
        and _header(headers, "access-control-request-method", "Access-Control-Request-Method")
        is not None
    )
    reason = (
        f"no policy document for this API yet: {_show(method)} {_show(path)} gets no CORS "
        "headers (nothing falls open before the first document arrives)"
    )
    return _decision(
        allowed=origin is None,
        preflight=preflight,
        headers={VARY: VARY_PREFLIGHT if preflight else VARY_ACTUAL},
        reason=reason,
        status=_PREFLIGHT_STATUS_REFUSED if preflight else None,
        applies=True,
        origin=origin,
        mode="enforce",
        code=Code.NO_POLICY,
    )


def choose_policy(policies: Sequence[CompiledPolicy], path: str) -> CompiledPolicy | None:
    """The first policy whose ``paths`` matches ``path``, or None."""
    for policy in policies:
        if policy.covers_path(path):
            return policy
    return None


def merge_vary(existing: str | None, *names: str) -> str:
    """Merge header names into an existing ``Vary`` value.

    Case-insensitive de-duplication, the existing order and spelling kept, new names
    appended; each argument may itself be a comma-separated list. ``*`` (vary on everything)
    absorbs the rest and stays ``*``.
    """
    seen: set[str] = set()
    merged: list[str] = []
    for value in (existing or "", *names):
        for item in value.split(","):
            name = item.strip(" \t")
            if not name:
                continue
            if name == "*":
                return "*"
            key = name.lower()
            if key not in seen:
                seen.add(key)
                merged.append(name)
    return ", ".join(merged)
