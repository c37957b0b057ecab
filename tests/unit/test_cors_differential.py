"""Differential test: our engine against django-cors-headers' CorsMiddleware.

Both are driven with the same generated policy and requests; corsheaders is configured with
the equivalent settings through pytest-django's ``settings`` fixture and wraps a trivial view.
Every difference is one of the KNOWN, NAMED differences below: a small function saying why
ours is right, applied to corsheaders' observed answer (or to its settings) before the
comparison, and each pinned by its own ``test_differs_from_corsheaders__...`` test. Anything
else is a bug in one of the two and fails the property test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from corsheaders.middleware import CorsMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from policies.cors import MAX_ORIGIN_LENGTH, decide, wildcard_to_regex

ACAO = "access-control-allow-origin"
ACAC = "access-control-allow-credentials"
ACAM = "access-control-allow-methods"
ACAH = "access-control-allow-headers"
ACEH = "access-control-expose-headers"
ACMA = "access-control-max-age"
ACAPN = "access-control-allow-private-network"
PREFLIGHT_VARY = frozenset(
    {
        "origin",
        "access-control-request-method",
        "access-control-request-headers",
        "access-control-request-private-network",
    }
)


@dataclass(frozen=True)
class Case:
    """One policy document and one request."""

    document: dict[str, Any]
    method: str
    path: str
    origin: str | None = None
    acrm: str | None = None
    acrh: str | None = None
    acrpn: str | None = None

    @property
    def covered(self) -> bool:
        """Whether the policy's ``paths`` (search semantics) covers the request path."""
        paths = self.document["paths"]
        return not paths or re.search(paths, self.path) is not None

    @property
    def preflight(self) -> bool:
        """A preflight (Fetch: OPTIONS + Origin + ACRM) on a path the policy covers."""
        return (
            self.covered
            and self.method == "OPTIONS"
            and self.origin is not None
            and self.acrm is not None
        )

    @property
    def origins(self) -> dict[str, Any]:
        return dict(self.document["origins"])

    @property
    def credentialed(self) -> bool:
        """Whether a grant carries credentials (allow_all never does, see below)."""
        return bool(self.document["allow_credentials"]) and not self.origins["allow_all"]


@dataclass(frozen=True)
class Observed:
    """What a browser sees: the status, the Access-Control-* headers, the Vary tokens."""

    status: int
    headers: dict[str, str]
    vary: frozenset[str]

    def without(self, *names: str) -> Observed:
        return replace(self, headers={k: v for k, v in self.headers.items() if k not in names})

    def refused(self) -> Observed:
        return replace(self, headers={})


def document(**changes: Any) -> dict[str, Any]:
    origins = {
        "exact": [],
        "wildcard": [],
        "regex": [],
        "allow_all": False,
        "allow_null": False,
        **changes.pop("origins", {}),
    }
    return {
        "schema": 1,
        "api": "billing",
        "version": 42,
        "mode": "enforce",
        "paths": None,
        "origins": origins,
        "methods": ["GET", "POST"],
        "request_headers": ["content-type"],
        "expose_headers": [],
        "allow_credentials": False,
        "max_age": 0,
        "allow_private_network": False,
        **changes,
    }


# --- the two sides ---------------------------------------------------------------------------


def _vary_tokens(value: str | None) -> frozenset[str]:
    """Named normalisation ``vary_token_case``: Vary holds header names, case-insensitive.

    corsheaders writes ``Vary: origin``, we write ``Vary: Origin`` (canonical capitalisation);
    both name the same header, so Vary is compared as a set of lower-case tokens.
    """
    if not value:
        return frozenset()
    return frozenset(item.strip().lower() for item in value.split(",") if item.strip())


def _build_request(case: Case) -> HttpRequest:
    meta: dict[str, str] = {}
    for key, value in (
        ("HTTP_ORIGIN", case.origin),
        ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", case.acrm),
        ("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", case.acrh),
        ("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK", case.acrpn),
    ):
        if value is not None:
            meta[key] = value
    return RequestFactory().generic(case.method, case.path, **meta)


def corsheaders_settings(case: Case) -> dict[str, Any]:
    """The django-cors-headers settings equivalent to the case's policy document."""
    doc = case.document
    origins = case.origins
    return {
        "CORS_ALLOWED_ORIGINS": list(origins["exact"])
        + (["null"] if origins["allow_null"] else []),
        "CORS_ALLOWED_ORIGIN_REGEXES": [wildcard_to_regex(w) for w in origins["wildcard"]]
        + list(origins["regex"]),
        "CORS_ALLOW_ALL_ORIGINS": origins["allow_all"],
        "CORS_ALLOW_CREDENTIALS": doc["allow_credentials"],
        "CORS_ALLOW_METHODS": list(doc["methods"]),
        "CORS_ALLOW_HEADERS": list(doc["request_headers"]),
        "CORS_EXPOSE_HEADERS": list(doc["expose_headers"]),
        "CORS_PREFLIGHT_MAX_AGE": doc["max_age"],
        "CORS_ALLOW_PRIVATE_NETWORK": doc["allow_private_network"],
        # ``paths`` has RE2 search semantics; corsheaders uses re.match: ".*" makes it search.
        "CORS_URLS_REGEX": r"^.*$" if not doc["paths"] else f".*(?:{doc['paths']})",
    }


def run_corsheaders(case: Case, django_settings: Any, setting_changes: dict[str, Any]) -> Observed:
    """corsheaders' answer, its settings set through pytest-django's ``settings`` fixture.

    The fixture stacks one ``override_settings`` per assignment; they are undone after each
    call (``_finalize``, what the fixture's teardown does) so that hundreds of hypothesis
    examples do not pile up nested settings layers.
    """
    try:
        for name, value in setting_changes.items():
            setattr(django_settings, name, value)
        middleware = CorsMiddleware(lambda request: HttpResponse("view"))
        response = middleware(_build_request(case))
    finally:
        django_settings._finalize()
    headers = {
        name.lower(): value
        for name, value in response.items()
        if name.lower().startswith("access-control-")
    }
    return Observed(response.status_code, headers, _vary_tokens(response.headers.get("Vary")))


def run_ours(case: Case) -> Observed:
    decision = decide(
        case.document,
        method=case.method,
        path=case.path,
        headers=_build_request(case).headers,  # Django's case-insensitive HttpHeaders
    )
    status = decision.status if decision.status is not None else 200
    headers = {
        name.lower(): value
        for name, value in decision.headers.items()
        if name.lower().startswith("access-control-")
    }
    return Observed(status, headers, _vary_tokens(decision.headers.get("Vary")))


# --- known, named differences: corsheaders' settings ------------------------------------------


def regex_prefix_only__we_require_full_match(case: Case, django: dict[str, Any]) -> None:
    """corsheaders applies CORS_ALLOWED_ORIGIN_REGEXES with ``re.match``, anchored only at the
    start, so ``https://.*\\.example\\.com`` admits ``https://a.example.com.evil.net``. A regex
    that admits suffixes of the intended origin is the classic unanchored-regex hole
    (cors-rules 3, 28): we match the whole origin. The comparison anchors corsheaders' copy.
    """
    django["CORS_ALLOWED_ORIGIN_REGEXES"] = [
        f"(?:{pattern})\\Z" for pattern in django["CORS_ALLOWED_ORIGIN_REGEXES"]
    ]


def non_canonical_configured_origins__we_canonicalise(case: Case, django: dict[str, Any]) -> None:
    """corsheaders compares scheme and netloc of configured origins as written, so a configured
    ``https://App.example.com`` or ``https://x.example:443`` never matches what a browser sends
    (``https://app.example.com``, ``https://x.example``). They name the same origin: we compare
    in canonical form (cors-rules 5, 29). The comparison gives corsheaders the canonical forms.
    """
    django["CORS_ALLOWED_ORIGINS"] = [
        _canonical(origin) if origin != "null" else origin
        for origin in django["CORS_ALLOWED_ORIGINS"]
    ]


SETTINGS_DIFFERENCES: list[Callable[[Case, dict[str, Any]], None]] = [
    regex_prefix_only__we_require_full_match,
    non_canonical_configured_origins__we_canonicalise,
]

# --- known, named differences: corsheaders' answer --------------------------------------------

_SERIALIZED_ORIGIN = re.compile(
    r"[a-z][a-z0-9+.-]*://(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])(?::[1-9][0-9]{0,4})?"
)
_DEFAULT_PORT = re.compile(r"(?:https|wss)://.*:443|(?:http|ws)://.*:80")


def _is_serialized_origin(origin: str) -> bool:
    """A serialized origin as browsers send it (Fetch, cors-rules A3); test-side definition."""
    return bool(_SERIALIZED_ORIGIN.fullmatch(origin)) and not _DEFAULT_PORT.fullmatch(origin)


def _canonical(origin: str) -> str:
    scheme, _, rest = origin.lower().rstrip("/").partition("://")
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and rest.endswith(default):
        rest = rest[: -len(default)]
    return f"{scheme}://{rest}"


def request_origin_not_serialized__we_refuse(case: Case, theirs: Observed) -> Observed:
    """corsheaders compares ``urlsplit(origin)``'s scheme and netloc and ``re.match``es regexes,
    so it admits (and echoes) origins no browser sends: ``https://app.example.com/path``,
    ``https://app.example.com/``, ``https://App.example.com`` matched by a lax regex, or any
    scheme-less string when ``null`` is configured (``urlsplit("foo")`` has the same empty
    scheme and netloc as ``urlsplit("null")``). It also matches over-long origins. We refuse
    anything that is not a serialized origin and anything longer than MAX_ORIGIN_LENGTH before
    matching (cors-rules A3, B4: never reflect a malformed value).
    """
    origin = case.origin
    if origin is None or case.origins["allow_all"] or origin == "null":
        return theirs
    if len(origin) > MAX_ORIGIN_LENGTH or not _is_serialized_origin(origin):
        return theirs.refused()
    return theirs


def null_only_via_allow_null__we_refuse_other_routes(case: Case, theirs: Observed) -> Observed:
    """In corsheaders ``null`` is admitted when listed, but a lax regex can admit it too. We
    grant ``null`` only through the explicit ``allow_null`` (cors-rules 2, 6, 27).
    """
    if case.origin == "null" and not case.origins["allow_all"] and not case.origins["allow_null"]:
        return theirs.refused()
    return theirs


def allow_all_with_credentials__star_without_credentials(case: Case, theirs: Observed) -> Observed:
    """corsheaders with CORS_ALLOW_ALL_ORIGINS and CORS_ALLOW_CREDENTIALS echoes *any* origin
    with ``Access-Control-Allow-Credentials: true``: every site on the web can read
    authenticated responses (cors-rules 1, 7, 26). We answer ``*`` and never grant credentials.
    """
    if case.origins["allow_all"] and ACAO in theirs.headers:
        headers = {k: v for k, v in theirs.headers.items() if k != ACAC}
        headers[ACAO] = "*"
        return replace(theirs, headers=headers)
    return theirs


def allow_all__static_answer_without_vary(case: Case, theirs: Observed) -> Observed:
    """corsheaders sends ``Vary: origin`` and no ``Access-Control-Allow-Origin`` on responses to
    requests without ``Origin``, even when it allows all origins. With allow_all the answer
    does not depend on the origin: Fetch ("CORS protocol and HTTP caches", cors-rules F23)
    says to send the static ``*`` on every response and not to vary, so a cached non-CORS
    response still serves a later CORS request.
    """
    if not case.origins["allow_all"] or not case.covered or case.preflight:
        return theirs
    headers = dict(theirs.headers)
    if case.origin is None:
        headers[ACAO] = "*"
        if case.document["expose_headers"]:
            headers[ACEH] = ", ".join(case.document["expose_headers"])
    return Observed(theirs.status, headers, theirs.vary - {"origin"})


def star_with_credentials__literal_so_dropped(case: Case, theirs: Observed) -> Observed:
    """With credentials, ``*`` in ACAM, ACAH and ACEH is a literal name for the browser, not a
    wildcard (Fetch, cors-rules 8, 10, 33); corsheaders emits it anyway. We drop ``*`` (it
    grants nothing) and omit a header left empty.
    """
    if not case.credentialed or ACAO not in theirs.headers:
        return theirs
    headers = dict(theirs.headers)
    for name in (ACAM, ACAH, ACEH):
        if name in headers:
            items = [item for item in headers[name].split(", ") if item != "*"]
            if items:
                headers[name] = ", ".join(items)
            else:
                del headers[name]
    return replace(theirs, headers=headers)


def empty_lists__header_omitted(case: Case, theirs: Observed) -> Observed:
    """corsheaders sends ``Access-Control-Allow-Headers:`` (empty) when no header is allowed;
    an empty value is a malformed list for the browser (cors-rules D16). We omit it.
    """
    return theirs.without(*(name for name in (ACAM, ACAH) if theirs.headers.get(name) == ""))


def actual_options__no_preflight_headers(case: Case, theirs: Observed) -> Observed:
    """corsheaders adds ACAM, ACAH and max-age to *every* OPTIONS response, even one without
    ``Access-Control-Request-Method`` (an ordinary request, Fetch). They are meaningless
    outside a preflight (cors-rules D19): we send them on preflights only.
    """
    if case.method == "OPTIONS" and not case.preflight:
        return theirs.without(ACAM, ACAH, ACMA)
    return theirs


def expose_headers__not_on_preflight(case: Case, theirs: Observed) -> Observed:
    """corsheaders adds ACEH to preflight answers too; the browser reads it only on the actual
    response (Fetch, cors-rules E21), so we send it there only.
    """
    return theirs.without(ACEH) if case.preflight else theirs


def private_network__only_on_preflight(case: Case, theirs: Observed) -> Observed:
    """corsheaders adds ``Access-Control-Allow-Private-Network`` to any response whose request
    carries the PNA request header. It is a preflight header (WICG PNA, cors-rules H22/H25).
    """
    return theirs if case.preflight else theirs.without(ACAPN)


def _preflight_refusal(case: Case) -> bool:
    """The method/header/PNA checks, test-side (Fetch CORS-preflight fetch, cors-rules D12-15)."""
    doc = case.document
    methods = set(doc["methods"])
    names = {name.lower() for name in doc["request_headers"]}
    if case.credentialed:
        methods.discard("*")
        names.discard("*")
    method = (case.acrm or "").strip()
    safelisted = method in {"GET", "HEAD", "POST"}  # Fetch: never checked against ACAM
    if method not in methods and not safelisted and not ("*" in methods and method):
        return True
    for item in (case.acrh or "").split(","):
        name = item.strip().lower()
        if name and name not in names and not ("*" in names and name != "authorization"):
            return True
    return case.acrpn == "true" and not doc["allow_private_network"]


def preflight__checks_method_headers_pna(case: Case, theirs: Observed) -> Observed:
    """corsheaders answers every preflight from an allowed origin with its configured lists,
    whatever method and headers are requested, and leaves the refusal to the browser. We check
    the requested method (case-sensitively), each requested header name and private network
    access, and refuse with no CORS headers, so the reason is explicit in our logs and
    simulator and nothing is granted that the policy does not list.
    """
    if case.preflight and ACAO in theirs.headers and _preflight_refusal(case):
        return theirs.refused()
    return theirs


def refused_preflight__403(case: Case, theirs: Observed) -> Observed:
    """corsheaders answers a refused preflight ``200`` without CORS headers; we answer ``403``
    (Fetch permits it, cors-rules B7) so that the refusal reads clearly in devtools and logs.
    """
    if case.preflight and ACAO not in theirs.headers:
        return replace(theirs, status=403)
    return theirs


def preflight_vary__request_headers_too(case: Case, theirs: Observed) -> Observed:
    """corsheaders varies a preflight on ``Origin`` only. The answer also depends on the
    requested method, headers and private network access (and whether it is a preflight at
    all on ACRM), so a cache that stores preflights must key on them (cors-rules F23, 11).
    """
    if case.preflight:
        return replace(theirs, vary=theirs.vary | PREFLIGHT_VARY)
    return theirs


def max_age_zero__sent(case: Case, theirs: Observed) -> Observed:
    """corsheaders omits ``Access-Control-Max-Age`` when CORS_PREFLIGHT_MAX_AGE is 0, so the
    browser caches the preflight for its default 5 seconds instead of not at all. ``max_age:
    0`` means "do not cache" (lint: "a preflight before every request"), so we send ``0``.
    """
    if case.preflight and ACAO in theirs.headers and case.document["max_age"] == 0:
        return replace(theirs, headers={**theirs.headers, ACMA: "0"})
    return theirs


RESPONSE_DIFFERENCES: list[Callable[[Case, Observed], Observed]] = [
    request_origin_not_serialized__we_refuse,
    null_only_via_allow_null__we_refuse_other_routes,
    allow_all_with_credentials__star_without_credentials,
    allow_all__static_answer_without_vary,
    star_with_credentials__literal_so_dropped,
    empty_lists__header_omitted,
    actual_options__no_preflight_headers,
    expose_headers__not_on_preflight,
    private_network__only_on_preflight,
    preflight__checks_method_headers_pna,
    max_age_zero__sent,
    refused_preflight__403,
    preflight_vary__request_headers_too,
]


def expected_from_corsheaders(case: Case, django_settings: Any) -> Observed:
    """corsheaders' answer with every known, named difference applied."""
    setting_changes = corsheaders_settings(case)
    for adjust in SETTINGS_DIFFERENCES:
        adjust(case, setting_changes)
    observed = run_corsheaders(case, django_settings, setting_changes)
    for difference in RESPONSE_DIFFERENCES:
        observed = difference(case, observed)
    return observed


# --- the property ----------------------------------------------------------------------------

EXACT_POOL = [
    "https://app.example.com",
    "http://localhost:3000",
    "https://example.com",
    "http://[::1]:8080",
    "https://App.example.com",
    "https://example.com:443",
    "https://app.example.com/",
]
WILDCARD_POOL = ["https://*.example.com", "http://*.example.test:8080"]
REGEX_POOL = [
    r"^https://pr-[0-9]+\.preview\.example\.com$",
    r"https://.*\.example\.com",
    r"^https?://localhost(:[0-9]+)?$",
    r"https://[a-z]+\.partner\.example",
]
ORIGIN_POOL = [
    "https://app.example.com",
    "http://localhost:3000",
    "http://localhost:3001",
    "https://localhost",
    "https://example.com",
    "http://[::1]:8080",
    "https://a.example.com",
    "https://a.b.example.com",
    "https://evilexample.com",
    "https://app.example.com.evil.net",
    "https://example.com.",
    "https://App.example.com",
    "https://app.example.com:443",
    "https://app.example.com/",
    "https://app.example.com/path?q",
    "http://app.example.com",
    "https://app.example.com:8443",
    "http://a.example.test:8080",
    "http://a.example.test",
    "https://pr-12.preview.example.com",
    "https://pr-x.preview.example.com",
    "https://acme.partner.example",
    "https://acme.partner.example.evil.net",
    "null",
    "foo",
    "https://" + "a." * 260 + "example.com",
]
ORIGIN_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="[]"),
    min_size=1,
    max_size=40,
)
HEADER_NAMES = ["content-type", "authorization", "x-custom", "X-Custom", "x-requested-with"]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    exact = draw(st.lists(st.sampled_from(EXACT_POOL), unique=True, max_size=4))
    doc = document(
        origins={
            "exact": exact,
            "wildcard": draw(st.lists(st.sampled_from(WILDCARD_POOL), unique=True)),
            "regex": draw(st.lists(st.sampled_from(REGEX_POOL), unique=True, max_size=2)),
            "allow_all": draw(st.booleans()),
            "allow_null": draw(st.booleans()),
        },
        paths=draw(st.sampled_from([None, "^/api/", "^/api/v[0-9]+/"])),
        methods=draw(
            st.lists(
                st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"]),
                unique=True,
            )
        ),
        request_headers=draw(
            st.lists(
                st.sampled_from(["content-type", "authorization", "x-custom", "*"]), unique=True
            )
        ),
        expose_headers=draw(
            st.lists(st.sampled_from(["x-request-id", "x-total-count", "*"]), unique=True)
        ),
        allow_credentials=draw(st.booleans()),
        max_age=draw(st.sampled_from([0, 600, 86400])),
        allow_private_network=draw(st.booleans()),
    )
    # About half the cases are preflights (OPTIONS + Origin + ACRM), the rest anything.
    preflight = draw(st.booleans())
    method = "OPTIONS" if preflight else draw(st.sampled_from(["GET", "POST", "PUT", "OPTIONS"]))
    origin_values = st.sampled_from(ORIGIN_POOL) | st.sampled_from(exact or ORIGIN_POOL)
    if not preflight:
        origin_values = st.none() | origin_values | ORIGIN_TEXT
    origin = draw(origin_values | (st.sampled_from(exact) if exact else st.nothing()))
    methods = st.sampled_from(["GET", "POST", "PATCH", "patch", "DELETE", "PURGE", ""])
    acrm = draw(methods if preflight else st.none() | methods)
    acrh = draw(
        st.none()
        | st.lists(st.sampled_from(HEADER_NAMES), max_size=3).flatmap(
            lambda names: st.sampled_from([",".join(names), ", ".join(names)])
        )
    )
    acrpn = draw(st.sampled_from([None, "true", "false"]))
    path = draw(st.sampled_from(["/api/x", "/api/v1/items", "/health", "/v2/api/x"]))
    return Case(doc, method, path, origin, acrm, acrh, acrpn)


@hypothesis_settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_engine__same_requests_as_corsheaders__same_answer_modulo_named_differences(
    settings: Any, case: Case
) -> None:
    expected = expected_from_corsheaders(case, settings)

    assert run_ours(case) == expected


# --- agreement where both express the same policy safely -------------------------------------


def test_agrees_with_corsheaders__listed_origin_credentialed__same_headers(settings: Any) -> None:
    # Given the design document's policy and a listed origin
    case = Case(
        document(
            origins={"exact": ["https://app.example.com"]},
            methods=["GET", "POST"],
            expose_headers=["x-request-id"],
            allow_credentials=True,
        ),
        "GET",
        "/api/x",
        origin="https://app.example.com",
    )

    # Then both answer with exactly the same headers, without any normalisation
    theirs = run_corsheaders(case, settings, corsheaders_settings(case))
    assert (
        run_ours(case)
        == theirs
        == Observed(
            200,
            {
                ACAO: "https://app.example.com",
                ACAC: "true",
                ACEH: "x-request-id",
            },
            frozenset({"origin"}),
        )
    )


def test_corsheaders__settings_fixture__read_without_installed_app(settings: Any) -> None:
    # corsheaders is not in INSTALLED_APPS: its middleware still reads django.conf.settings
    case = Case(document(), "GET", "/api/x", origin="https://listed.example")
    refused = run_corsheaders(case, settings, {"CORS_ALLOWED_ORIGINS": []})
    listed = run_corsheaders(case, settings, {"CORS_ALLOWED_ORIGINS": ["https://listed.example"]})

    assert ACAO not in refused.headers
    assert listed.headers[ACAO] == "https://listed.example"


# --- one test per pinned difference ------------------------------------------------------------


def both(case: Case, settings: Any) -> tuple[Observed, Observed]:
    """(theirs with the equivalent settings and no normalisation, ours)."""
    return run_corsheaders(case, settings, corsheaders_settings(case)), run_ours(case)


def test_differs_from_corsheaders__regex_prefix_only__we_require_full_match(
    settings: Any,
) -> None:
    # Given a regex without "$" and an origin that only starts like an allowed one
    case = Case(
        document(origins={"regex": [r"https://.*\.example\.com"]}),
        "GET",
        "/api/x",
        origin="https://a.example.com.evil.net",
    )

    theirs, ours = both(case, settings)

    assert theirs.headers == {ACAO: "https://a.example.com.evil.net"}
    assert ours.headers == {}


def test_differs_from_corsheaders__allow_all_with_credentials__star_without_acac(
    settings: Any,
) -> None:
    case = Case(
        document(origins={"allow_all": True}, allow_credentials=True),
        "GET",
        "/api/x",
        origin="https://evil.example",
    )

    theirs, ours = both(case, settings)

    assert theirs.headers == {ACAO: "https://evil.example", ACAC: "true"}
    assert ours.headers == {ACAO: "*"}
    assert ours.vary == frozenset()


def test_differs_from_corsheaders__non_canonical_configured_origin__we_canonicalise(
    settings: Any,
) -> None:
    # Given configured origins written with upper case and an explicit default port
    case = Case(
        document(origins={"exact": ["https://App.example.com", "https://x.example:443"]}),
        "GET",
        "/api/x",
        origin="https://app.example.com",
    )
    other = replace(case, origin="https://x.example")

    assert both(case, settings)[0].headers == {}
    assert both(other, settings)[0].headers == {}
    assert run_ours(case).headers == {ACAO: "https://app.example.com"}
    assert run_ours(other).headers == {ACAO: "https://x.example"}


@pytest.mark.parametrize(
    ("configured", "origin"),
    [
        pytest.param(["https://app.example.com"], "https://app.example.com/path", id="path"),
        pytest.param(["https://app.example.com"], "https://app.example.com/", id="trailing-slash"),
        pytest.param(["null"], "foo", id="scheme-less-when-null-listed"),
    ],
)
def test_differs_from_corsheaders__non_serialized_request_origin__we_refuse(
    settings: Any, configured: list[str], origin: str
) -> None:
    allow_null = configured == ["null"]
    case = Case(
        document(origins={"exact": [] if allow_null else configured, "allow_null": allow_null}),
        "GET",
        "/api/x",
        origin=origin,
    )

    theirs, ours = both(case, settings)

    assert theirs.headers == {ACAO: origin}
    assert ours.headers == {}


def test_differs_from_corsheaders__over_long_origin__we_refuse(settings: Any) -> None:
    origin = "https://" + "a." * 260 + "example.com"
    case = Case(document(origins={"wildcard": ["https://*.example.com"]}), "GET", "/", origin)

    theirs, ours = both(case, settings)

    assert theirs.headers == {ACAO: origin}
    assert ours.headers == {}


def test_differs_from_corsheaders__null_matched_by_regex__we_require_allow_null(
    settings: Any,
) -> None:
    case = Case(document(origins={"regex": [r"n.*"]}), "GET", "/", origin="null")

    theirs, ours = both(case, settings)

    assert theirs.headers == {ACAO: "null"}
    assert ours.headers == {}


def test_differs_from_corsheaders__refused_preflight__403_without_headers(settings: Any) -> None:
    case = Case(
        document(origins={"exact": ["https://app.example.com"]}),
        "OPTIONS",
        "/api/x",
        origin="https://evil.example",
        acrm="POST",
    )

    theirs, ours = both(case, settings)

    assert (theirs.status, theirs.headers) == (200, {})
    assert (ours.status, ours.headers) == (403, {})


@pytest.mark.parametrize(
    ("acrm", "acrh", "acrpn"),
    [
        pytest.param("DELETE", None, None, id="method-not-listed"),
        pytest.param("post", None, None, id="method-case"),
        pytest.param("POST", "x-custom", None, id="header-not-listed"),
        pytest.param("POST", None, "true", id="private-network-not-allowed"),
    ],
)
def test_differs_from_corsheaders__preflight_validation__we_refuse_what_is_not_listed(
    settings: Any, acrm: str, acrh: str | None, acrpn: str | None
) -> None:
    case = Case(
        document(origins={"exact": ["https://app.example.com"]}),
        "OPTIONS",
        "/api/x",
        origin="https://app.example.com",
        acrm=acrm,
        acrh=acrh,
        acrpn=acrpn,
    )

    theirs, ours = both(case, settings)

    assert theirs.status == 200
    assert theirs.headers == {
        ACAO: "https://app.example.com",
        ACAM: "GET, POST",
        ACAH: "content-type",
    }
    assert (ours.status, ours.headers) == (403, {})


def test_differs_from_corsheaders__vary_on_preflight__we_add_the_request_headers(
    settings: Any,
) -> None:
    case = Case(
        document(origins={"exact": ["https://app.example.com"]}, max_age=600),
        "OPTIONS",
        "/api/x",
        origin="https://app.example.com",
        acrm="POST",
    )

    theirs, ours = both(case, settings)

    assert theirs.vary == frozenset({"origin"})
    assert ours.vary == PREFLIGHT_VARY
    assert ours.headers == theirs.headers


def test_differs_from_corsheaders__options_without_acrm__no_preflight_headers(
    settings: Any,
) -> None:
    case = Case(
        document(origins={"exact": ["https://app.example.com"]}, max_age=600),
        "OPTIONS",
        "/api/x",
        origin="https://app.example.com",
    )

    theirs, ours = both(case, settings)

    assert theirs.headers == {
        ACAO: "https://app.example.com",
        ACAM: "GET, POST",
        ACAH: "content-type",
        ACMA: "600",
    }
    assert ours.headers == {ACAO: "https://app.example.com"}


def test_differs_from_corsheaders__expose_headers_on_preflight__we_omit(settings: Any) -> None:
    case = Case(
        document(origins={"exact": ["https://app.example.com"]}, expose_headers=["x-request-id"]),
        "OPTIONS",
        "/api/x",
        origin="https://app.example.com",
        acrm="POST",
    )

    theirs, ours = both(case, settings)

    assert theirs.headers[ACEH] == "x-request-id"
    assert ACEH not in ours.headers


def test_differs_from_corsheaders__private_network_on_actual_request__we_omit(
    settings: Any,
) -> None:
    case = Case(
        document(origins={"exact": ["https://app.example.com"]}, allow_private_network=True),
        "GET",
        "/api/x",
        origin="https://app.example.com",
        acrpn="true",
    )

    theirs, ours = both(case, settings)

    assert theirs.headers[ACAPN] == "true"
    assert ours.headers == {ACAO: "https://app.example.com"}


def test_differs_from_corsheaders__star_with_credentials__we_drop_it(settings: Any) -> None:
    case = Case(
        document(
            origins={"exact": ["https://app.example.com"]},
            methods=["GET", "*"],
            request_headers=["*", "content-type"],
            allow_credentials=True,
        ),
        "OPTIONS",
        "/api/x",
        origin="https://app.example.com",
        acrm="GET",
    )

    theirs, ours = both(case, settings)

    assert (theirs.headers[ACAM], theirs.headers[ACAH]) == ("GET, *", "*, content-type")
    assert (ours.headers[ACAM], ours.headers[ACAH]) == ("GET", "content-type")


def test_differs_from_corsheaders__empty_allow_list__we_omit_the_header(settings: Any) -> None:
    case = Case(
        document(origins={"exact": ["https://app.example.com"]}, request_headers=[]),
        "OPTIONS",
        "/api/x",
        origin="https://app.example.com",
        acrm="POST",
    )

    theirs, ours = both(case, settings)

    assert theirs.headers[ACAH] == ""
    assert ACAH not in ours.headers


def test_differs_from_corsheaders__allow_all_without_origin__static_star_without_vary(
    settings: Any,
) -> None:
    case = Case(document(origins={"allow_all": True}), "GET", "/api/x")

    theirs, ours = both(case, settings)

    assert (theirs.headers, theirs.vary) == ({}, frozenset({"origin"}))
    assert (ours.headers, ours.vary) == ({ACAO: "*"}, frozenset())


def test_differs_from_corsheaders__empty_origin__we_refuse_the_preflight(settings: Any) -> None:
    # Not generated by the property (an empty Origin is not a browser's): pinned here.
    case = Case(document(origins={"allow_null": True}), "OPTIONS", "/api/x", origin="", acrm="POST")

    theirs, ours = both(case, settings)

    assert (theirs.status, theirs.headers, theirs.vary) == (200, {}, frozenset({"origin"}))
    assert (ours.status, ours.headers, ours.vary) == (403, {}, PREFLIGHT_VARY)


def test_differs_from_corsheaders__options_with_acrm_without_origin__goes_to_the_app(
    settings: Any,
) -> None:
    # Given an OPTIONS with Access-Control-Request-Method but no Origin (not a preflight, Fetch)
    case = Case(document(), "OPTIONS", "/api/x", acrm="POST")
    for name, value in corsheaders_settings(case).items():
        setattr(settings, name, value)
    views: list[HttpRequest] = []

    def view(request: HttpRequest) -> HttpResponse:
        views.append(request)
        return HttpResponse("view")

    # When corsheaders handles it, it answers it without reaching the view
    CorsMiddleware(view)(_build_request(case))
    assert views == []
    # Then ours says it is an ordinary request: the middleware lets the app answer it
    decision = decide(
        case.document,
        method="OPTIONS",
        path="/api/x",
        headers={"Access-Control-Request-Method": "POST"},
    )
    assert (decision.preflight, decision.status) == (False, None)


def test_differs_from_corsheaders__paths_unanchored__we_search_anywhere(settings: Any) -> None:
    # Given the same regex as CORS_URLS_REGEX (re.match) and as paths (RE2 search)
    case = Case(
        document(origins={"exact": ["https://app.example.com"]}, paths="/api/"),
        "GET",
        "/v2/api/x",
        origin="https://app.example.com",
    )
    setting_changes = {**corsheaders_settings(case), "CORS_URLS_REGEX": "/api/"}

    theirs = run_corsheaders(case, settings, setting_changes)

    assert (theirs.headers, theirs.vary) == ({}, frozenset())
    assert run_ours(case).headers == {ACAO: "https://app.example.com"}


def test_differs_from_corsheaders__max_age_zero__we_send_zero(settings: Any) -> None:
    # Given a policy with max_age 0 and an allowed preflight
    case = Case(
        document(origins={"exact": ["https://app.example.com"]}, max_age=0),
        "OPTIONS",
        "/api/x",
        origin="https://app.example.com",
        acrm="POST",
    )

    # When both answer
    theirs, ours = both(case, settings)

    # Then corsheaders omits the header (browsers cache 5 s), we send 0 (do not cache)
    assert ACMA not in theirs.headers
    assert ours.headers[ACMA] == "0"


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_agrees_with_corsheaders__safelisted_method_not_listed__preflight_allowed(
    settings: Any, method: str
) -> None:
    # Given a policy whose methods lack the safelisted method, and an allowed header
    case = Case(
        document(origins={"exact": ["https://app.example.com"]}, methods=["PUT"], max_age=600),
        "OPTIONS",
        "/api/x",
        origin="https://app.example.com",
        acrm=method,
        acrh="content-type",
    )

    # When both answer the preflight
    theirs, ours = both(case, settings)

    # Then both allow it and list the policy's methods (Fetch: safelisted methods pass)
    assert ours.status == theirs.status == 200
    assert ours.headers == theirs.headers
    assert ours.headers[ACAM] == "PUT"
    assert ours.headers[ACAO] == "https://app.example.com"
