"""Writes the conformance cases (``conformance/cases/*.json``) from the tables below.

Run ``python conformance/generate.py`` after editing a table; ``tests/conformance`` checks
that the committed JSON is what this script writes, so the two never drift. The expected
values are written out here by hand, from ``cors-rules.md`` and the Fetch standard: they are
never computed by an engine. Stdlib only, no import from this project.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"

ACAO = "Access-Control-Allow-Origin"
ACAC = "Access-Control-Allow-Credentials"
ACAM = "Access-Control-Allow-Methods"
ACAH = "Access-Control-Allow-Headers"
ACEH = "Access-Control-Expose-Headers"
ACMA = "Access-Control-Max-Age"
ACAPN = "Access-Control-Allow-Private-Network"
VARY = "Vary"
NAMES = (ACAO, ACAC, ACAM, ACAH, ACEH, ACMA, ACAPN, VARY)

VARY_ACTUAL = "Origin"
VARY_PREFLIGHT = (
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    "Access-Control-Request-Private-Network"
)

APP = "https://app.example.com"
LOCAL = "http://localhost:3000"
EVIL = "https://evil.example.net"

BASE: dict[str, Any] = {
    "schema": 1,
    "api": "conformance",
    "version": 7,
    "updated_at": "2026-11-25T12:00:00Z",
    "mode": "enforce",
    "paths": "^/api/",
    "origins": {
        "exact": [APP, LOCAL],
        "wildcard": ["https://*.tenant.example.org", "http://*.example.test:8080"],
        "regex": [r"^https://pr-[0-9]+\.preview\.example\.com$"],
        "allow_all": False,
        "allow_null": False,
    },
    "methods": ["GET", "POST", "PATCH"],
    "request_headers": ["authorization", "content-type"],
    "expose_headers": ["x-request-id"],
    "allow_credentials": True,
    "max_age": 3600,
    "allow_private_network": False,
}
METHODS = "GET, POST, PATCH"
REQUEST_HEADERS = "authorization, content-type"


def doc(**changes: Any) -> dict[str, Any]:
    """BASE with top-level changes; an ``origins`` dict is merged into BASE's origins; a
    value of ``...`` removes the key."""
    document = copy.deepcopy(BASE)
    origins = changes.pop("origins", {})
    document["origins"].update(origins)
    for key, value in changes.items():
        if value is ...:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def cors(**present: str) -> dict[str, str | None]:
    """Every CORS response header name, ``None`` for the absent ones."""
    names = {name.replace("-", "_").lower(): name for name in NAMES}
    short = {
        "acao": ACAO,
        "acac": ACAC,
        "acam": ACAM,
        "acah": ACAH,
        "aceh": ACEH,
        "acma": ACMA,
        "acapn": ACAPN,
        "vary": VARY,
    }
    headers: dict[str, str | None] = dict.fromkeys(NAMES)
    for key, value in present.items():
        headers[short.get(key) or names[key]] = value
    return headers


def allowed_actual(origin: str, *, acac: bool = True, aceh: str | None = "x-request-id") -> Any:
    values: dict[str, str] = {"acao": origin, "vary": VARY_ACTUAL}
    if acac:
        values["acac"] = "true"
    if aceh is not None:
        values["aceh"] = aceh
    return cors(**values)


def allowed_preflight(
    origin: str = APP,
    *,
    acac: bool = True,
    acam: str | None = METHODS,
    acah: str | None = REQUEST_HEADERS,
    acma: str | None = "3600",
    acapn: str | None = None,
    vary: str | None = VARY_PREFLIGHT,
) -> Any:
    values: dict[str, str] = {"acao": origin}
    if acac:
        values["acac"] = "true"
    for key, value in (
        ("acam", acam),
        ("acah", acah),
        ("acma", acma),
        ("acapn", acapn),
        ("vary", vary),
    ):
        if value is not None:
            values[key] = value
    return cors(**values)


REFUSED_ACTUAL = cors(vary=VARY_ACTUAL)
REFUSED_PREFLIGHT = cors(vary=VARY_PREFLIGHT)
NONE = cors()
STAR = cors(acao="*", aceh="x-request-id")


def request(
    origin: str | None = None,
    *,
    method: str = "GET",
    path: str = "/api/items",
    acrm: str | None = None,
    acrh: str | None = None,
    pna: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    values: dict[str, str] = {"Accept": "application/json"}
    if origin is not None:
        values["Origin"] = origin
    if acrm is not None:
        values["Access-Control-Request-Method"] = acrm
    if acrh is not None:
        values["Access-Control-Request-Headers"] = acrh
    if pna is not None:
        values["Access-Control-Request-Private-Network"] = pna
    values.update(headers or {})
    return {"method": method, "path": path, "headers": values}


def preflight(origin: str = APP, acrm: str = "PATCH", **kwargs: Any) -> dict[str, Any]:
    return request(origin, method="OPTIONS", acrm=acrm, **kwargs)


NO_DOCUMENT: Any = object()
"""A case whose consumer holds no document for the API (a cold start): ``document`` null."""


def case(
    name: str,
    rule: str,
    req: dict[str, Any],
    code: str,
    headers: dict[str, str | None],
    *,
    document: dict[str, Any] | None = None,
    status: int | None = None,
    e2e: bool = False,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "rule": rule,
        "document": None if document is NO_DOCUMENT else document if document else doc(),
        "request": req,
        "expect": {"status": status, "code": code, "headers": headers},
    }
    if e2e:
        entry["e2e"] = True
    return entry


def ok_preflight(name: str, rule: str, req: dict[str, Any], headers: Any, **kw: Any) -> Any:
    return case(name, rule, req, "allowed", headers, status=200, **kw)


def refused_preflight(name: str, rule: str, req: dict[str, Any], code: str, **kw: Any) -> Any:
    return case(name, rule, req, code, REFUSED_PREFLIGHT, status=403, **kw)


def refused_actual(name: str, rule: str, origin: str, **kw: Any) -> Any:
    document = kw.pop("document", None)
    e2e = kw.pop("e2e", False)
    return case(
        name,
        rule,
        request(origin, **kw),
        "origin-not-allowed",
        REFUSED_ACTUAL,
        document=document,
        e2e=e2e,
    )


# --- A. classification -----------------------------------------------------------------------

UNCREDENTIALED = doc(allow_credentials=False)

CLASSIFICATION = [
    case(
        "no Origin: not a CORS request, Vary only",
        "A1",
        request(None),
        "not-cors",
        REFUSED_ACTUAL,
        e2e=True,
    ),
    case(
        "no Origin on a POST: not a CORS request",
        "A1",
        request(None, method="POST"),
        "not-cors",
        REFUSED_ACTUAL,
    ),
    case(
        "OPTIONS without Access-Control-Request-Method is an ordinary request",
        "A1",
        request(APP, method="OPTIONS"),
        "allowed",
        allowed_actual(APP),
        e2e=True,
    ),
    case(
        "OPTIONS with Access-Control-Request-Method but no Origin is not a preflight",
        "A1",
        request(None, method="OPTIONS", acrm="PATCH"),
        "not-cors",
        REFUSED_ACTUAL,
        e2e=True,
    ),
    case(
        "OPTIONS without Access-Control-Request-Method from a refused origin: no CORS headers",
        "A1",
        request(EVIL, method="OPTIONS"),
        "origin-not-allowed",
        REFUSED_ACTUAL,
    ),
    case(
        "request header names in lower case are found",
        "A1",
        {
            "method": "OPTIONS",
            "path": "/api/items",
            "headers": {"origin": APP, "access-control-request-method": "PATCH"},
        },
        "allowed",
        allowed_preflight(),
        status=200,
    ),
    case(
        "request header names in upper case are found",
        "A1",
        {
            "method": "OPTIONS",
            "path": "/api/items",
            "headers": {"ORIGIN": APP, "ACCESS-CONTROL-REQUEST-METHOD": "PATCH"},
        },
        "allowed",
        allowed_preflight(),
        status=200,
    ),
    case(
        "a same-origin POST from an unlisted origin is never blocked, only left without CORS",
        "A2",
        request("http://127.0.0.1:8000", method="POST"),
        "origin-not-allowed",
        REFUSED_ACTUAL,
        e2e=True,
    ),
    case(
        "HEAD from a listed origin",
        "A1",
        request(APP, method="HEAD"),
        "allowed",
        allowed_actual(APP),
    ),
    case(
        "an actual DELETE is not checked against methods (only preflights are)",
        "D19",
        request(APP, method="DELETE"),
        "allowed",
        allowed_actual(APP),
        e2e=True,
    ),
    case(
        "an actual PUT not in methods still gets ACAO",
        "D19",
        request(APP, method="PUT"),
        "allowed",
        allowed_actual(APP),
    ),
    refused_actual(
        "upper-case host is not a serialized origin", "A3", "https://App.example.com", e2e=True
    ),
    refused_actual("upper-case scheme is not a serialized origin", "A3", "HTTPS://app.example.com"),
    refused_actual(
        "explicit default port is not a serialized origin", "A3", "https://app.example.com:443"
    ),
    refused_actual(
        "explicit default http port",
        "A3",
        "http://localhost:80",
        document=doc(origins={"exact": ["http://localhost"]}),
    ),
    refused_actual("trailing slash is not a serialized origin", "A3", "https://app.example.com/"),
    refused_actual("a path is not a serialized origin", "A3", "https://app.example.com/x"),
    refused_actual("a query is not a serialized origin", "A3", "https://app.example.com?x=1"),
    refused_actual("userinfo is not a serialized origin", "A3", "https://user@app.example.com"),
    refused_actual(
        "a list of origins is refused, never split",
        "A3",
        "https://app.example.com, https://evil.example.net",
    ),
    refused_actual("an empty Origin is refused", "A3", ""),
    refused_actual("a port with a leading zero is not serialized", "A3", "http://localhost:03000"),
    refused_actual("port 0 is not an origin", "A3", "https://app.example.com:0"),
    refused_actual("a port above 65535 is not an origin", "A3", "https://app.example.com:70000"),
    refused_actual(
        "a non-ASCII host is not serialized (browsers send punycode)",
        "A3",
        "https://bücher.example",
    ),
    refused_actual("'*' is not an origin", "A3", "*"),
    refused_actual("no scheme", "A3", "app.example.com"),
    refused_actual(
        "an origin over 512 characters is refused before matching",
        "A3",
        "https://" + "a" * 512 + ".example.com",
        document=doc(origins={"allow_null": True}),
    ),
    refused_actual(
        "an over-long origin that a wildcard would match is refused before matching",
        "A3",
        "https://" + "a." * 300 + "tenant.example.org",
    ),
    case(
        "a punycode host listed exactly is echoed",
        "A3",
        request("https://xn--bcher-kva.example"),
        "allowed",
        allowed_actual("https://xn--bcher-kva.example"),
        document=doc(origins={"exact": ["https://xn--bcher-kva.example"]}),
    ),
    case(
        "an IPv6 origin listed exactly is echoed",
        "A3",
        request("http://[::1]:8080"),
        "allowed",
        allowed_actual("http://[::1]:8080"),
        document=doc(origins={"exact": ["http://[::1]:8080"]}),
        e2e=True,
    ),
    case(
        "an IPv4 origin listed exactly is echoed",
        "A3",
        request("http://127.0.0.1:5173"),
        "allowed",
        allowed_actual("http://127.0.0.1:5173"),
        document=doc(origins={"exact": ["http://127.0.0.1:5173"]}),
    ),
]

# --- B. the allow-origin decision ------------------------------------------------------------

ORIGINS = [
    case(
        "a listed origin is echoed with credentials",
        "B4",
        request(APP),
        "allowed",
        allowed_actual(APP),
        e2e=True,
    ),
    case(
        "a listed origin with a port is echoed",
        "B4",
        request(LOCAL),
        "allowed",
        allowed_actual(LOCAL),
        e2e=True,
    ),
    refused_actual("an unlisted origin gets no CORS headers", "B7", EVIL, e2e=True),
    refused_actual("scheme mismatch", "B4", "http://app.example.com"),
    refused_actual("port mismatch", "B4", "https://app.example.com:8443"),
    refused_actual("another port of a listed origin", "B4", "http://localhost:3001", e2e=True),
    refused_actual(
        "a listed origin as a prefix", "footgun-3", "https://app.example.com.evil.net", e2e=True
    ),
    refused_actual("a listed origin as a suffix", "footgun-3", "https://evilapp.example.com"),
    refused_actual("a trailing dot is another origin", "B4", "https://app.example.com."),
    case(
        "wildcard: one label",
        "footgun-3",
        request("https://a.tenant.example.org"),
        "allowed",
        allowed_actual("https://a.tenant.example.org"),
        e2e=True,
    ),
    case(
        "wildcard: several labels ('*' is multi-level)",
        "footgun-3",
        request("https://a.b-c.tenant.example.org"),
        "allowed",
        allowed_actual("https://a.b-c.tenant.example.org"),
    ),
    refused_actual(
        "wildcard: never the bare domain", "footgun-3", "https://tenant.example.org", e2e=True
    ),
    refused_actual(
        "wildcard: never a name ending the same",
        "footgun-3",
        "https://eviltenant.example.org",
        e2e=True,
    ),
    refused_actual("wildcard: an empty label", "footgun-3", "https://.tenant.example.org"),
    refused_actual(
        "wildcard: the domain as a prefix", "footgun-3", "https://a.tenant.example.org.evil.net"
    ),
    refused_actual("wildcard: an extra port", "footgun-3", "https://a.tenant.example.org:8443"),
    refused_actual("wildcard: another scheme", "footgun-3", "http://a.tenant.example.org"),
    refused_actual(
        "wildcard: an upper-case label is not serialized", "A3", "https://A.tenant.example.org"
    ),
    refused_actual(
        "wildcard: an underscore label is outside [a-z0-9-]",
        "footgun-3",
        "https://a_b.tenant.example.org",
    ),
    case(
        "wildcard with a port: the same port",
        "footgun-3",
        request("http://a.example.test:8080"),
        "allowed",
        allowed_actual("http://a.example.test:8080"),
    ),
    refused_actual("wildcard with a port: no port", "footgun-3", "http://a.example.test"),
    refused_actual("wildcard with a port: another port", "footgun-3", "http://a.example.test:8081"),
    case(
        "wildcard written with an explicit default port matches the origin without it",
        "footgun-5",
        request("https://a.shop.example.com"),
        "allowed",
        allowed_actual("https://a.shop.example.com"),
        document=doc(origins={"wildcard": ["https://*.shop.example.com:443"]}),
    ),
    case(
        "regex: full match",
        "footgun-3",
        request("https://pr-17.preview.example.com"),
        "allowed",
        allowed_actual("https://pr-17.preview.example.com"),
        e2e=True,
    ),
    refused_actual(
        "regex: the match as a prefix",
        "footgun-3",
        "https://pr-17.preview.example.com.evil.net",
        e2e=True,
    ),
    refused_actual("regex: no digits", "footgun-3", "https://pr-.preview.example.com"),
    case(
        "regex without anchors still matches the whole origin only (allowed)",
        "I28",
        request("https://pr-3.preview.example.com"),
        "allowed",
        allowed_actual("https://pr-3.preview.example.com"),
        document=doc(origins={"regex": [r"https://pr-[0-9]+\.preview\.example\.com"]}),
    ),
    refused_actual(
        "regex without anchors still matches the whole origin only (suffix refused)",
        "I28",
        "https://pr-3.preview.example.com.evil.net",
        document=doc(origins={"regex": [r"https://pr-[0-9]+\.preview\.example\.com"]}),
    ),
    refused_actual(
        "regex without anchors still matches the whole origin only (prefix refused)",
        "I28",
        "https://evil.net.https://pr-3.preview.example.com",
        document=doc(origins={"regex": [r"https://pr-[0-9]+\.preview\.example\.com"]}),
    ),
    case(
        "RE2 semantics: an inline (?i) flag",
        "I28",
        request("https://admin.example.com"),
        "allowed",
        allowed_actual("https://admin.example.com"),
        document=doc(origins={"regex": [r"(?i)^https://ADMIN\.example\.com$"]}),
        e2e=True,
    ),
    case(
        "RE2 semantics: \\Q...\\E quotes a literal",
        "I28",
        request("https://q.example.com"),
        "allowed",
        allowed_actual("https://q.example.com"),
        document=doc(origins={"regex": [r"^\Qhttps://q.example.com\E$"]}),
    ),
    refused_actual(
        "RE2 semantics: \\Q...\\E dots are literal",
        "I28",
        "https://qxexample.com",
        document=doc(origins={"regex": [r"^\Qhttps://q.example.com\E$"]}),
    ),
    case(
        "RE2 semantics: a POSIX class [[:digit:]]",
        "I28",
        request("https://v42.example.com"),
        "allowed",
        allowed_actual("https://v42.example.com"),
        document=doc(origins={"regex": [r"^https://v[[:digit:]]+\.example\.com$"]}),
    ),
    case(
        "RE2 semantics: \\A and \\z anchors",
        "I28",
        request("https://z.example.com"),
        "allowed",
        allowed_actual("https://z.example.com"),
        document=doc(origins={"regex": [r"\Ahttps://z\.example\.com\z"]}),
    ),
    case(
        "RE2 semantics: top-level alternation is anchored as a whole",
        "I28",
        request("https://b.example.com"),
        "allowed",
        allowed_actual("https://b.example.com"),
        document=doc(origins={"regex": [r"https://a\.example\.com|https://b\.example\.com"]}),
    ),
    refused_actual(
        "RE2 semantics: top-level alternation cannot match a part",
        "I28",
        "https://b.example.com.evil.net",
        document=doc(origins={"regex": [r"https://a\.example\.com|https://b\.example\.com"]}),
    ),
    case(
        "several patterns: the second one matches",
        "footgun-3",
        request("https://x.other.example.com"),
        "allowed",
        allowed_actual("https://x.other.example.com"),
        document=doc(
            origins={
                "regex": [
                    r"^https://nothing\.example\.com$",
                    r"^https://[a-z]+\.other\.example\.com$",
                ]
            }
        ),
    ),
    refused_actual("null is refused by default", "B6", "null", e2e=True),
    case(
        "null with allow_null is echoed as null",
        "B6",
        request("null"),
        "allowed",
        allowed_actual("null"),
        document=doc(origins={"allow_null": True}),
        e2e=True,
    ),
    refused_actual(
        "'Null' is not null (case-sensitive)",
        "B6",
        "Null",
        document=doc(origins={"allow_null": True}),
    ),
    refused_actual(
        "null matched by a regex still needs allow_null",
        "B6",
        "null",
        document=doc(origins={"regex": ["^null$", ".*"]}),
    ),
    case(
        "configured origins are canonicalised (upper case, default port, trailing slash)",
        "footgun-5",
        request(APP),
        "allowed",
        allowed_actual(APP),
        document=doc(origins={"exact": ["HTTPS://App.Example.com:443/"]}),
        e2e=True,
    ),
    case(
        "configured http origin with :80 matches the origin without it",
        "footgun-5",
        request("http://localhost"),
        "allowed",
        allowed_actual("http://localhost"),
        document=doc(origins={"exact": ["http://localhost:80"]}),
    ),
    refused_actual(
        "no origins at all means nobody, never everybody",
        "footgun-4",
        APP,
        document=doc(origins={"exact": [], "wildcard": [], "regex": []}),
        e2e=True,
    ),
    case(
        "allow_all answers * and never credentials",
        "B5",
        request(EVIL),
        "allowed",
        STAR,
        document=doc(origins={"allow_all": True}),
        e2e=True,
    ),
    case(
        "allow_all answers * to null",
        "B5",
        request("null"),
        "allowed",
        STAR,
        document=doc(origins={"allow_all": True}),
    ),
    case(
        "allow_all answers * even to a non-serialized origin (it reflects nothing)",
        "B5",
        request("https://App.example.com/"),
        "allowed",
        STAR,
        document=doc(origins={"allow_all": True}),
    ),
    case(
        "allow_all without Origin: the static answer, no Vary",
        "F23",
        request(None),
        "not-cors",
        STAR,
        document=doc(origins={"allow_all": True}),
        e2e=True,
    ),
    case(
        "allow_all uncredentialed without expose headers: ACAO only",
        "B5",
        request(APP),
        "allowed",
        cors(acao="*"),
        document=doc(origins={"allow_all": True}, allow_credentials=False, expose_headers=[]),
    ),
]

# --- C. credentials and "*" ------------------------------------------------------------------

CREDENTIALS = [
    case(
        "uncredentialed: no ACAC, never 'false'",
        "C8",
        request(APP),
        "allowed",
        allowed_actual(APP, acac=False),
        document=UNCREDENTIALED,
        e2e=True,
    ),
    ok_preflight(
        "credentialed preflight carries ACAC",
        "C9",
        preflight(),
        allowed_preflight(),
        e2e=True,
    ),
    ok_preflight(
        "uncredentialed preflight has no ACAC",
        "C9",
        preflight(),
        allowed_preflight(acac=False),
        document=UNCREDENTIALED,
        e2e=True,
    ),
    ok_preflight(
        "allow_all with credentials: preflight answers * without ACAC",
        "C7",
        preflight(EVIL),
        allowed_preflight("*", acac=False),
        document=doc(origins={"allow_all": True}),
        e2e=True,
    ),
    refused_preflight(
        "methods '*' with credentials is literal: PATCH refused",
        "C10",
        preflight(acrm="PATCH"),
        "method-not-allowed",
        document=doc(methods=["*"]),
    ),
    ok_preflight(
        "methods '*' with credentials: a listed method passes, '*' is not emitted",
        "C10",
        preflight(acrm="PATCH"),
        allowed_preflight(acam="PATCH"),
        document=doc(methods=["*", "PATCH"]),
    ),
    ok_preflight(
        "methods '*' uncredentialed: any method",
        "D12",
        preflight(acrm="PURGE"),
        allowed_preflight(acac=False, acam="*"),
        document=doc(methods=["*"], allow_credentials=False),
    ),
    refused_preflight(
        "methods '*' uncredentialed: not a method token",
        "D12",
        preflight(acrm="PUR GE"),
        "method-not-allowed",
        document=doc(methods=["*"], allow_credentials=False),
    ),
    ok_preflight(
        "request headers '*' uncredentialed: any name",
        "D14",
        preflight(acrh="x-custom,x-other"),
        allowed_preflight(acac=False, acah="*"),
        document=doc(request_headers=["*"], allow_credentials=False),
    ),
    refused_preflight(
        "request headers '*' never covers authorization",
        "D15",
        preflight(acrh="authorization"),
        "header-not-allowed",
        document=doc(request_headers=["*"], allow_credentials=False),
        e2e=True,
    ),
    ok_preflight(
        "request headers '*' plus authorization listed",
        "D15",
        preflight(acrh="authorization,x-custom"),
        allowed_preflight(acac=False, acah="*, authorization"),
        document=doc(request_headers=["*", "authorization"], allow_credentials=False),
    ),
    refused_preflight(
        "request headers '*' with credentials is literal",
        "C10",
        preflight(acrh="x-custom"),
        "header-not-allowed",
        document=doc(request_headers=["*"]),
    ),
    ok_preflight(
        "request headers '*' with credentials is not emitted",
        "C10",
        preflight(acrh="content-type"),
        allowed_preflight(acah="content-type"),
        document=doc(request_headers=["*", "content-type"]),
    ),
    case(
        "expose headers '*' uncredentialed",
        "E21",
        request(APP),
        "allowed",
        allowed_actual(APP, acac=False, aceh="*"),
        document=doc(expose_headers=["*"], allow_credentials=False),
    ),
    case(
        "expose headers '*' with credentials is dropped",
        "C10",
        request(APP),
        "allowed",
        allowed_actual(APP),
        document=doc(expose_headers=["*", "x-request-id"]),
    ),
    case(
        "expose headers only '*' with credentials: no ACEH",
        "I33",
        request(APP),
        "allowed",
        allowed_actual(APP, aceh=None),
        document=doc(expose_headers=["*"]),
    ),
    case(
        "allow_all with credentials and expose '*': '*' kept (uncredentialed answer)",
        "C7",
        request(APP),
        "allowed",
        cors(acao="*", aceh="*"),
        document=doc(origins={"allow_all": True}, expose_headers=["*"]),
    ),
    ok_preflight(
        "allow_all with credentials and methods '*': '*' kept",
        "C7",
        preflight(EVIL, acrm="PURGE"),
        allowed_preflight("*", acac=False, acam="*"),
        document=doc(origins={"allow_all": True}, methods=["*"]),
    ),
]

# --- D. preflights ---------------------------------------------------------------------------

PREFLIGHT = [
    ok_preflight(
        "a listed method from a listed origin", "D11", preflight(), allowed_preflight(), e2e=True
    ),
    refused_preflight(
        "a refused origin: 403 without CORS headers",
        "D11",
        preflight(EVIL),
        "origin-not-allowed",
        e2e=True,
    ),
    refused_preflight(
        "null preflight refused by default", "B6", preflight("null"), "origin-not-allowed"
    ),
    ok_preflight(
        "null preflight with allow_null",
        "B6",
        preflight("null"),
        allowed_preflight("null"),
        document=doc(origins={"allow_null": True}),
    ),
    refused_preflight("an empty Origin on a preflight", "A3", preflight(""), "origin-not-allowed"),
    refused_preflight(
        "a method not listed", "D12", preflight(acrm="DELETE"), "method-not-allowed", e2e=True
    ),
    refused_preflight(
        "method case matters: 'patch' is not 'PATCH'",
        "D13",
        preflight(acrm="patch"),
        "method-not-allowed",
        e2e=True,
    ),
    refused_preflight(
        "an empty Access-Control-Request-Method", "D12", preflight(acrm=""), "method-not-allowed"
    ),
    ok_preflight(
        "Access-Control-Request-Method is trimmed",
        "D14",
        preflight(acrm=" PATCH "),
        allowed_preflight(),
    ),
    ok_preflight(
        "safelisted GET passes whatever methods says",
        "D12",
        preflight(acrm="GET"),
        allowed_preflight(acam="PUT"),
        document=doc(methods=["PUT"]),
        e2e=True,
    ),
    ok_preflight(
        "safelisted HEAD passes whatever methods says (with a custom header)",
        "D12",
        preflight(acrm="HEAD", acrh="content-type"),
        allowed_preflight(acam="GET, PUT"),
        document=doc(methods=["GET", "PUT"]),
        e2e=True,
    ),
    ok_preflight(
        "safelisted POST passes a GET-only policy (a JSON POST)",
        "D12",
        preflight(acrm="POST", acrh="content-type"),
        allowed_preflight(acam="GET"),
        document=doc(methods=["GET"]),
        e2e=True,
    ),
    ok_preflight(
        "safelisted POST with an empty methods list: no ACAM",
        "D12",
        preflight(acrm="POST"),
        allowed_preflight(acam=None),
        document=doc(methods=[]),
    ),
    refused_preflight(
        "'get' in lower case is not safelisted",
        "D13",
        preflight(acrm="get"),
        "method-not-allowed",
        document=doc(methods=["PUT"]),
    ),
    refused_preflight(
        "a safelisted method does not lift the origin check",
        "D12",
        preflight(EVIL, acrm="GET"),
        "origin-not-allowed",
    ),
    refused_preflight(
        "a safelisted method does not lift the header check",
        "D14",
        preflight(acrm="POST", acrh="x-custom"),
        "header-not-allowed",
    ),
    refused_preflight(
        "an empty methods list refuses PUT",
        "footgun-4",
        preflight(acrm="PUT"),
        "method-not-allowed",
        document=doc(methods=[]),
    ),
    ok_preflight(
        "listed request headers",
        "D14",
        preflight(acrh="authorization,content-type"),
        allowed_preflight(),
        e2e=True,
    ),
    ok_preflight(
        "request header names any case, with spaces",
        "D14",
        preflight(acrh="Content-Type , Authorization"),
        allowed_preflight(),
    ),
    ok_preflight(
        "empty items in Access-Control-Request-Headers are skipped",
        "D14",
        preflight(acrh="content-type,,"),
        allowed_preflight(),
    ),
    ok_preflight(
        "an empty Access-Control-Request-Headers asks for nothing",
        "D14",
        preflight(acrh=""),
        allowed_preflight(),
    ),
    refused_preflight(
        "an unlisted request header",
        "D14",
        preflight(acrh="x-custom"),
        "header-not-allowed",
        e2e=True,
    ),
    refused_preflight(
        "one unlisted request header among listed ones",
        "D14",
        preflight(acrh="content-type,x-custom"),
        "header-not-allowed",
    ),
    refused_preflight(
        "an empty request_headers list refuses any header",
        "footgun-4",
        preflight(acrh="content-type"),
        "header-not-allowed",
        document=doc(request_headers=[]),
    ),
    ok_preflight(
        "an empty request_headers list: no ACAH",
        "footgun-4",
        preflight(),
        allowed_preflight(acah=None),
        document=doc(request_headers=[]),
    ),
    refused_preflight(
        "the method is checked before the headers",
        "D12",
        preflight(acrm="DELETE", acrh="x-custom"),
        "method-not-allowed",
    ),
    refused_preflight(
        "the origin is checked before the method",
        "D11",
        preflight(EVIL, acrm="DELETE"),
        "origin-not-allowed",
    ),
    ok_preflight(
        "methods are emitted de-duplicated, in document order",
        "D16",
        preflight(acrm="PUT"),
        allowed_preflight(acam="PUT, DELETE"),
        document=doc(methods=["PUT", "PUT", "DELETE"]),
    ),
    ok_preflight(
        "request header names are emitted in lower case, de-duplicated",
        "D16",
        preflight(acrh="x-trace"),
        allowed_preflight(acah="content-type, x-trace"),
        document=doc(request_headers=["Content-Type", "X-Trace", "x-trace"]),
    ),
    ok_preflight(
        "max_age 0 sends Access-Control-Max-Age: 0",
        "D17",
        preflight(),
        allowed_preflight(acma="0"),
        document=doc(max_age=0),
        e2e=True,
    ),
    ok_preflight(
        "max_age absent: no Access-Control-Max-Age",
        "D17",
        preflight(),
        allowed_preflight(acma=None),
        document=doc(max_age=...),
    ),
    ok_preflight(
        "max_age 1", "D17", preflight(), allowed_preflight(acma="1"), document=doc(max_age=1)
    ),
    ok_preflight(
        "max_age at Chromium's cap",
        "D17",
        preflight(),
        allowed_preflight(acma="7200"),
        document=doc(max_age=7200),
    ),
    ok_preflight(
        "max_age at Firefox's cap",
        "D17",
        preflight(),
        allowed_preflight(acma="86400"),
        document=doc(max_age=86400),
    ),
    case(
        "no ACAM, ACAH or max-age on an actual response",
        "D19",
        request(APP, method="PATCH"),
        "allowed",
        allowed_actual(APP),
    ),
    case(
        "no ACEH on a preflight",
        "D19",
        preflight(),
        "allowed",
        allowed_preflight(),
        status=200,
        document=doc(expose_headers=["x-request-id", "x-total"]),
    ),
    ok_preflight(
        "a preflight from a wildcard-matched origin",
        "D11",
        preflight("https://a.tenant.example.org"),
        allowed_preflight("https://a.tenant.example.org"),
    ),
    ok_preflight(
        "a preflight from a regex-matched origin",
        "D11",
        preflight("https://pr-9.preview.example.com", acrm="POST"),
        allowed_preflight("https://pr-9.preview.example.com"),
    ),
    refused_preflight(
        "a preflight from a non-serialized origin",
        "A3",
        preflight("https://app.example.com/"),
        "origin-not-allowed",
    ),
    ok_preflight(
        "allow_all preflight still checks the method",
        "D12",
        preflight(EVIL, acrm="PATCH"),
        allowed_preflight("*", acac=False),
        document=doc(origins={"allow_all": True}),
    ),
    refused_preflight(
        "allow_all preflight refuses an unlisted method",
        "D12",
        preflight(EVIL, acrm="DELETE"),
        "method-not-allowed",
        document=doc(origins={"allow_all": True}),
    ),
    refused_preflight(
        "allow_all preflight refuses an unlisted header",
        "D14",
        preflight(EVIL, acrh="x-custom"),
        "header-not-allowed",
        document=doc(origins={"allow_all": True}),
    ),
    ok_preflight(
        "a preflight on a deeper path",
        "D11",
        preflight(path="/api/items/42/comments"),
        allowed_preflight(),
    ),
]

# --- E. actual responses ---------------------------------------------------------------------

ACTUAL = [
    case(
        "several expose headers, in document order",
        "E21",
        request(APP),
        "allowed",
        allowed_actual(APP, aceh="x-request-id, x-total-count"),
        document=doc(expose_headers=["x-request-id", "x-total-count"]),
    ),
    case(
        "no expose headers: no ACEH",
        "E21",
        request(APP),
        "allowed",
        allowed_actual(APP, aceh=None),
        document=doc(expose_headers=[]),
        e2e=True,
    ),
    case(
        "expose headers are de-duplicated",
        "E21",
        request(APP),
        "allowed",
        allowed_actual(APP),
        document=doc(expose_headers=["x-request-id", "x-request-id"]),
    ),
    case(
        "a POST from a listed origin",
        "E22",
        request(APP, method="POST"),
        "allowed",
        allowed_actual(APP),
        e2e=True,
    ),
    case(
        "a text/plain POST (no preflight) from a listed origin",
        "E22",
        request(APP, method="POST", headers={"Content-Type": "text/plain"}),
        "allowed",
        allowed_actual(APP),
    ),
    refused_actual(
        "a POST from an unlisted origin: the app answers, without CORS",
        "footgun-23",
        EVIL,
        method="POST",
        e2e=True,
    ),
    case(
        "a wildcard-matched origin on a POST",
        "E20",
        request("https://x.tenant.example.org", method="POST"),
        "allowed",
        allowed_actual("https://x.tenant.example.org"),
    ),
    case(
        "a DELETE from null with allow_null",
        "E20",
        request("null", method="DELETE"),
        "allowed",
        allowed_actual("null"),
        document=doc(origins={"allow_null": True}),
    ),
    case(
        "Authorization on an actual request changes nothing",
        "E22",
        request(APP, headers={"Authorization": "Bearer x"}),
        "allowed",
        allowed_actual(APP),
    ),
    case(
        "Access-Control-Request-Headers on a GET is not a preflight",
        "A1",
        request(APP, acrh="x-custom"),
        "allowed",
        allowed_actual(APP),
    ),
    case(
        "Access-Control-Request-Method on a POST is not a preflight",
        "A1",
        request(APP, method="POST", acrm="DELETE"),
        "allowed",
        allowed_actual(APP),
    ),
]

# --- F. Vary ---------------------------------------------------------------------------------

VARY_CASES = [
    case(
        "Vary: Origin on an allowed response",
        "F23",
        request(LOCAL),
        "allowed",
        allowed_actual(LOCAL),
    ),
    refused_actual("Vary: Origin on a refused response", "F23", "https://other.example.com"),
    case(
        "Vary: Origin without Origin",
        "F23",
        request(None, method="DELETE"),
        "not-cors",
        REFUSED_ACTUAL,
    ),
    ok_preflight(
        "Vary on an allowed preflight names all four request headers",
        "F23",
        preflight(LOCAL, acrm="POST"),
        allowed_preflight(LOCAL),
    ),
    refused_preflight(
        "Vary on a refused preflight names all four request headers",
        "F23",
        preflight(LOCAL, acrm="PUT"),
        "method-not-allowed",
    ),
    case(
        "allow_all: no Vary on an actual response",
        "F23",
        request(APP, method="POST"),
        "allowed",
        STAR,
        document=doc(origins={"allow_all": True}),
    ),
    ok_preflight(
        "allow_all: a preflight still varies (the answer depends on the method)",
        "F23",
        preflight(APP, acrm="GET"),
        allowed_preflight("*", acac=False),
        document=doc(origins={"allow_all": True}),
    ),
    case(
        "mode off: no Vary",
        "F23",
        request(APP),
        "mode-off",
        NONE,
        document=doc(mode="off"),
    ),
    case(
        "outside the paths: no Vary",
        "F23",
        request(APP, path="/health"),
        "outside-paths",
        NONE,
    ),
]

# --- H. private network access ---------------------------------------------------------------

PNA = doc(allow_private_network=True)

PRIVATE_NETWORK = [
    ok_preflight(
        "requested and allowed: ACAPN true",
        "H25",
        preflight(pna="true"),
        allowed_preflight(acapn="true"),
        document=PNA,
        e2e=True,
    ),
    refused_preflight(
        "requested, not allowed: refused",
        "H25",
        preflight(pna="true"),
        "private-network-not-allowed",
        e2e=True,
    ),
    ok_preflight(
        "allowed but not requested: no ACAPN",
        "H25",
        preflight(),
        allowed_preflight(),
        document=PNA,
        e2e=True,
    ),
    ok_preflight(
        "'false' is not a request for it",
        "H25",
        preflight(pna="false"),
        allowed_preflight(),
    ),
    ok_preflight(
        "'TRUE' is not 'true'",
        "H25",
        preflight(pna="TRUE"),
        allowed_preflight(),
    ),
    ok_preflight(
        "the value is trimmed",
        "H25",
        preflight(pna=" true "),
        allowed_preflight(acapn="true"),
        document=PNA,
    ),
    case(
        "never on an actual request",
        "footgun-22",
        request(APP, pna="true"),
        "allowed",
        allowed_actual(APP),
        document=PNA,
        e2e=True,
    ),
    refused_preflight(
        "the origin is checked first",
        "H25",
        preflight(EVIL, pna="true"),
        "origin-not-allowed",
        document=PNA,
    ),
    refused_preflight(
        "the headers are checked before private network access",
        "H25",
        preflight(acrh="x-custom", pna="true"),
        "header-not-allowed",
    ),
    ok_preflight(
        "allow_all with private network access",
        "H25",
        preflight(EVIL, pna="true"),
        allowed_preflight("*", acac=False, acapn="true"),
        document=doc(origins={"allow_all": True}, allow_private_network=True),
    ),
    refused_preflight(
        "allow_all without private network access",
        "H25",
        preflight(EVIL, pna="true"),
        "private-network-not-allowed",
        document=doc(origins={"allow_all": True}),
    ),
]

# --- modes and paths -------------------------------------------------------------------------

OFF = doc(mode="off")
REPORT_ONLY = doc(mode="report-only")

MODES_PATHS = [
    case(
        "mode off: no CORS headers", "mode", request(APP), "mode-off", NONE, document=OFF, e2e=True
    ),
    case(
        "mode off: a preflight goes to the app",
        "mode",
        preflight(),
        "mode-off",
        NONE,
        document=OFF,
        e2e=True,
    ),
    case("mode off: a refused origin", "mode", request(EVIL), "mode-off", NONE, document=OFF),
    case(
        "report-only decides exactly as enforce (allowed)",
        "mode",
        request(APP),
        "allowed",
        allowed_actual(APP),
        document=REPORT_ONLY,
    ),
    case(
        "report-only decides exactly as enforce (refused)",
        "mode",
        request(EVIL),
        "origin-not-allowed",
        REFUSED_ACTUAL,
        document=REPORT_ONLY,
    ),
    refused_preflight(
        "report-only decides exactly as enforce (refused preflight)",
        "mode",
        preflight(acrm="DELETE"),
        "method-not-allowed",
        document=REPORT_ONLY,
    ),
    case(
        "outside the paths: no CORS headers",
        "paths",
        request(APP, path="/health"),
        "outside-paths",
        NONE,
        e2e=True,
    ),
    case(
        "outside the paths: a preflight goes to the app",
        "paths",
        preflight(path="/health"),
        "outside-paths",
        NONE,
        e2e=True,
    ),
    case(
        "paths is a search: anchored ^/api/ does not cover /v1/api/x",
        "paths",
        request(APP, path="/v1/api/x"),
        "outside-paths",
        NONE,
    ),
    case(
        "paths is a search: unanchored /api/ covers /v1/api/x",
        "paths",
        request(APP, path="/v1/api/x"),
        "allowed",
        allowed_actual(APP),
        document=doc(paths="/api/"),
    ),
    case(
        "paths: ^/api/ does not cover /apix",
        "paths",
        request(APP, path="/apix"),
        "outside-paths",
        NONE,
    ),
    case(
        "paths null covers every path",
        "paths",
        request(APP, path="/anything"),
        "allowed",
        allowed_actual(APP),
        document=doc(paths=None),
        e2e=True,
    ),
    case(
        "paths empty covers every path",
        "paths",
        request(APP, path="/"),
        "allowed",
        allowed_actual(APP),
        document=doc(paths=""),
    ),
    case(
        "paths RE2 semantics: \\A anchor",
        "paths",
        request(APP, path="/v2/items"),
        "allowed",
        allowed_actual(APP),
        document=doc(paths=r"\A/v[0-9]+/"),
        e2e=True,
    ),
    case(
        "paths RE2 semantics: \\A anchor does not match inside",
        "paths",
        request(APP, path="/x/v2/items"),
        "outside-paths",
        NONE,
        document=doc(paths=r"\A/v[0-9]+/"),
    ),
    case(
        "paths RE2 semantics: alternation",
        "paths",
        request(APP, path="/graphql"),
        "allowed",
        allowed_actual(APP),
        document=doc(paths=r"^/(api|graphql)(/|$)"),
    ),
    case(
        "paths: a non-ASCII path",
        "paths",
        request(APP, path="/api/caf\u00e9"),
        "allowed",
        allowed_actual(APP),
    ),
    case(
        "paths are case-sensitive",
        "paths",
        request(APP, path="/API/items"),
        "outside-paths",
        NONE,
    ),
    case(
        "paths: the root path outside ^/api/",
        "paths",
        request(None, path="/"),
        "outside-paths",
        NONE,
    ),
]

# --- faults fixed so far (each pins a difference from django-cors-headers or a fixed bug) ---

FAULTS = [
    refused_actual(
        "fault: a regex django-cors-headers anchors only at the start admits a longer origin",
        "fault:regex-prefix-only",
        "https://a.example.com.evil.net",
        document=doc(origins={"regex": [r"^https://.*\.example\.com"]}),
        e2e=True,
    ),
    case(
        "fault: allow_all with credentials reflected any origin with credentials",
        "fault:allow-all-credentials",
        request("https://attacker.example"),
        "allowed",
        STAR,
        document=doc(origins={"allow_all": True}, allow_credentials=True),
    ),
    case(
        "fault: a configured https://x:443 never matched what browsers send",
        "fault:non-canonical-configured-origin",
        request("https://x.example.com"),
        "allowed",
        allowed_actual("https://x.example.com"),
        document=doc(origins={"exact": ["https://x.example.com:443"]}),
    ),
    refused_actual(
        "fault: a non-serialized request origin matched a loose comparison",
        "fault:non-serialized-request-origin",
        "https://APP.example.com",
    ),
    refused_actual(
        "fault: null matched by a catch-all regex",
        "fault:null-by-regex",
        "null",
        document=doc(origins={"regex": ["^.*$"]}),
    ),
    refused_preflight(
        "fault: a refused preflight got 200 and the app's headers",
        "fault:refused-preflight-status",
        preflight("https://attacker.example"),
        "origin-not-allowed",
    ),
    refused_preflight(
        "fault: a preflight for an unlisted header was answered",
        "fault:preflight-not-validated",
        preflight(acrh="x-secret"),
        "header-not-allowed",
    ),
    ok_preflight(
        "fault: preflight Vary named only Origin",
        "fault:preflight-vary",
        preflight(acrh="content-type"),
        allowed_preflight(),
    ),
    case(
        "fault: OPTIONS without ACRM got preflight headers",
        "fault:options-without-acrm",
        request(APP, method="OPTIONS"),
        "allowed",
        allowed_actual(APP),
    ),
    ok_preflight(
        "fault: expose headers were sent on preflights",
        "fault:expose-on-preflight",
        preflight(),
        allowed_preflight(),
    ),
    case(
        "fault: private network header on an actual response",
        "fault:pna-on-actual",
        request(APP, pna="true"),
        "allowed",
        allowed_actual(APP),
        document=PNA,
    ),
    ok_preflight(
        "fault: '*' emitted with credentials",
        "fault:star-with-credentials",
        preflight(acrm="POST"),
        allowed_preflight(acam="POST", acah="content-type"),
        document=doc(methods=["*", "POST"], request_headers=["*", "content-type"]),
    ),
    ok_preflight(
        "fault: an empty allow list sent an empty header",
        "fault:empty-allow-list",
        preflight(acrm="GET"),
        allowed_preflight(acam=None, acah=None),
        document=doc(methods=[], request_headers=[]),
    ),
    case(
        "fault: allow_all without Origin sent nothing (cached copies then lacked ACAO)",
        "fault:allow-all-static",
        request(None, path="/api/public"),
        "not-cors",
        STAR,
        document=doc(origins={"allow_all": True}),
    ),
    refused_preflight(
        "fault: an empty Origin was treated as absent",
        "fault:empty-origin",
        preflight("", acrm="PATCH"),
        "origin-not-allowed",
    ),
    case(
        "fault: OPTIONS with ACRM but no Origin was answered as a preflight",
        "fault:acrm-without-origin",
        request(None, method="OPTIONS", acrm="GET"),
        "not-cors",
        REFUSED_ACTUAL,
    ),
    case(
        "fault: django-cors-headers' URLS regex is a match, ours a search",
        "fault:paths-search",
        request(APP, path="/v1/api/items"),
        "allowed",
        allowed_actual(APP),
        document=doc(paths="/api/"),
    ),
    ok_preflight(
        "fault: a safelisted method was refused on a preflight (JSON POST, GET-only policy)",
        "fault:safelisted-preflight",
        preflight(acrm="POST", acrh="content-type"),
        allowed_preflight(acam="GET", acah="content-type"),
        document=doc(methods=["GET"], request_headers=["content-type"]),
    ),
    ok_preflight(
        "fault: max_age 0 sent no header (browsers then cache for 5 s)",
        "fault:max-age-zero",
        preflight(acrm="POST"),
        allowed_preflight(acma="0"),
        document=doc(max_age=0),
    ),
    refused_actual(
        "fault: an unescaped dot in a regex (Kong) admits evil-example.com",
        "fault:unescaped-dot",
        "https://evil-example.com",
        document=doc(origins={"regex": [r"^https://.*\.example\.com$"]}),
    ),
    case(
        "fault: escaped dots still admit real subdomains",
        "fault:unescaped-dot",
        request("https://a.example.com"),
        "allowed",
        allowed_actual("https://a.example.com"),
        document=doc(origins={"regex": [r"^https://.*\.example\.com$"]}),
    ),
    refused_actual(
        "fault: Envoy-style suffix matching admits evilexample.com",
        "fault:suffix-match",
        "https://evilexample.com",
        document=doc(origins={"wildcard": ["https://*.example.com"]}),
    ),
]

# --- no document held (cold start): nothing falls open ----------------------------------------

NO_POLICY = [
    case(
        "no document: a CORS request gets no CORS headers",
        "B7",
        request(APP),
        "no-policy",
        REFUSED_ACTUAL,
        document=NO_DOCUMENT,
        e2e=True,
    ),
    case(
        "no document: a preflight is refused",
        "D11",
        preflight(),
        "no-policy",
        REFUSED_PREFLIGHT,
        document=NO_DOCUMENT,
        status=403,
        e2e=True,
    ),
    case(
        "no document: a request without Origin needs nothing",
        "A1",
        request(None),
        "no-policy",
        REFUSED_ACTUAL,
        document=NO_DOCUMENT,
        e2e=True,
    ),
]

GROUPS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "classification": (
        "A. Which requests are CORS requests and preflights; request origins.",
        CLASSIFICATION,
    ),
    "origins": (
        "B. The allow-origin decision: exact, wildcard, regex (RE2), null, allow_all.",
        ORIGINS,
    ),
    "credentials": ("C. Credentials and '*' in methods, request and expose headers.", CREDENTIALS),
    "preflight": ("D. Preflight answers: status, methods, headers, max-age.", PREFLIGHT),
    "actual": ("E. Actual (non-preflight) responses.", ACTUAL),
    "vary": ("F. Vary on every response of a covered path.", VARY_CASES),
    "private-network": (
        "H. Private network access (Access-Control-Request-Private-Network).",
        PRIVATE_NETWORK,
    ),
    "modes-paths": ("Modes (enforce, report-only, off) and paths.", MODES_PATHS),
    "faults": ("Faults fixed so far, each a pinned regression.", FAULTS),
    "no-policy": (
        "No document held for the API (document null: a consumer's cold start).",
        NO_POLICY,
    ),
}


def render() -> dict[str, str]:
    """File name -> JSON text of every case file."""
    files: dict[str, str] = {}
    seen: set[str] = set()
    for group, (description, cases) in GROUPS.items():
        for entry in cases:
            key = f"{group}: {entry['name']}"
            if key in seen:
                raise SystemExit(f"duplicate case name: {key}")
            seen.add(key)
        payload = {"group": group, "description": description, "cases": cases}
        files[f"{group}.json"] = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    return files


def main() -> int:
    CASES.mkdir(exist_ok=True)
    total = 0
    for name, text in render().items():
        (CASES / name).write_text(text, encoding="utf-8")
        total += len(json.loads(text)["cases"])
    print(f"wrote {total} cases to {CASES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
