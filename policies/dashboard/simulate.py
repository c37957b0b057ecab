"""The simulator: what a consumer answers a browser, and what the browser then does.

The consumer's answer comes from `policies.cors.decide` over the API's compiled document,
exactly as a consumer middleware computes it, and each step shows the engine's stable code
(`policies.cors.Code`) beside its reason. The browser's side (is a preflight needed, does the
answer pass the CORS check) follows the Fetch standard, so the page can say "the browser lets
the page read the response" or why not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policies import cors

# Fetch "CORS-safelisted method": the engine's own set, so the two never disagree.
SAFELISTED_METHODS = cors.SAFELISTED_METHODS
# Request headers a page may set without a preflight (Fetch "CORS-safelisted request-header";
# content-type only for the three form types, which the simulator cannot know, so it is
# treated as needing a preflight, as it does for JSON).
SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language"})
CREDENTIALS_MODES = (
    ("omit", "omit (no cookies)"),
    ("same-origin", "same-origin (the default: none cross-origin)"),
    ("include", "include (cookies, fetch credentials: 'include')"),
)


@dataclass(frozen=True, slots=True)
class Step:
    title: str
    method: str
    request_headers: dict[str, str]
    decision: cors.Decision
    browser_ok: bool
    browser_reason: str


@dataclass(slots=True)
class Simulation:
    origin: str
    method: str
    path: str
    credentials: str
    steps: list[Step] = field(default_factory=list)
    allowed: bool = False
    verdict: str = ""
    notes: list[str] = field(default_factory=list)


def _names(raw: str) -> list[str]:
    names: list[str] = []
    for token in raw.replace(",", " ").split():
        name = token.split(":", 1)[0].strip().lower()
        if name and name not in names:
            names.append(name)
    return names


def _allow_origin_ok(headers: Mapping[str, str], origin: str, credentials: bool) -> str | None:
    allow_origin = headers.get(cors.ACAO)
    if allow_origin is None:
        return "the response has no Access-Control-Allow-Origin header"
    if credentials:
        if allow_origin == "*":
            return (
                "with credentials the browser refuses Access-Control-Allow-Origin: * "
                "(it must echo the origin)"
            )
        if headers.get(cors.ACAC) != "true":
            return "with credentials the response must carry Access-Control-Allow-Credentials: true"
    if allow_origin not in ("*", origin):
        return f"Access-Control-Allow-Origin is {allow_origin!r}, not this origin"
    return None


def _listed(value: str | None) -> set[str]:
    return {item.strip() for item in (value or "").split(",") if item.strip()}


def _preflight_ok(
    headers: Mapping[str, str],
    status: int | None,
    *,
    origin: str,
    method: str,
    names: list[str],
    credentials: bool,
) -> str | None:
    problem = _allow_origin_ok(headers, origin, credentials)
    if problem:
        return problem
    if status is None or not 200 <= status < 300:
        return f"the preflight answer has status {status}, not 2xx"
    methods = _listed(headers.get(cors.ACAM))
    star = "*" in methods and not credentials  # "*" is literal for credentialed requests
    if method not in SAFELISTED_METHODS and method not in methods and not star:
        return f"{method} is not in Access-Control-Allow-Methods"
    allowed = {name.lower() for name in _listed(headers.get(cors.ACAH))}
    for name in names:
        if name in SAFELISTED_HEADERS or name in allowed:
            continue
        if "*" in allowed and not credentials and name != "authorization":
            continue
        return f"the request header {name} is not in Access-Control-Allow-Headers"
    return None


def _not_applied(decision: cors.Decision) -> str:
    """Why a decision that does not apply leaves the response without CORS headers."""
    if decision.code == cors.Code.MODE_OFF:
        return "the policy is off, so the consumer adds no CORS headers"
    return "the path is outside the policy's paths, so the consumer adds no CORS headers"


def simulate(
    document: Mapping[str, Any],
    *,
    origin: str,
    method: str,
    path: str,
    request_headers: str,
    credentials: str,
    private_network: bool = False,
) -> Simulation:
    """Run one cross-origin request from `origin` through the engine and a browser's checks."""
    method = method.strip().upper() or "GET"
    path = path.strip() or "/"
    names = _names(request_headers)
    with_credentials = credentials == "include"
    result = Simulation(origin=origin, method=method, path=path, credentials=credentials)
    needs_preflight = (
        method not in SAFELISTED_METHODS
        or any(name not in SAFELISTED_HEADERS for name in names)
        or private_network
    )
    if document.get("mode") == "report-only":
        result.notes.append(
            "This API is in report-only mode: a consumer reports what it would refuse, but "
            "its responses keep the headers of its local fallback, not the ones below (the "
            "codes below are what enforce mode would do)."
        )
    listed = document.get("methods") or []
    if method in SAFELISTED_METHODS and method not in listed and "*" not in listed:
        result.notes.append(
            f"{method} is not in this policy's methods, but a methods list cannot stop GET, "
            "HEAD or POST: browsers send them to an allowed origin whatever "
            "Access-Control-Allow-Methods says (Fetch: CORS-safelisted methods). If the API "
            "must refuse them, the service's own authorisation must."
        )
    if needs_preflight:
        headers = {"Origin": origin, "Access-Control-Request-Method": method}
        if names:
            headers["Access-Control-Request-Headers"] = ",".join(sorted(names))
        if private_network:
            headers["Access-Control-Request-Private-Network"] = "true"
        decision = cors.decide(document, method="OPTIONS", path=path, headers=headers)
        problem = (
            _not_applied(decision)
            if not decision.applies
            else _preflight_ok(
                decision.headers,
                decision.status,
                origin=origin,
                method=method,
                names=names,
                credentials=with_credentials,
            )
        )
        result.steps.append(
            Step(
                title="Preflight (OPTIONS), sent by the browser first",
                method="OPTIONS",
                request_headers=headers,
                decision=decision,
                browser_ok=problem is None,
                browser_reason=problem or "the preflight passes: the browser sends the request",
            )
        )
        if problem is not None:
            result.verdict = f"Blocked at the preflight: {problem}."
            return result
    headers = {"Origin": origin}
    for name in names:
        headers[name] = "…"
    decision = cors.decide(document, method=method, path=path, headers=headers)
    problem = (
        _allow_origin_ok(decision.headers, origin, with_credentials)
        if decision.applies
        else _not_applied(decision)
    )
    result.steps.append(
        Step(
            title=f"The request ({method})",
            method=method,
            request_headers=headers,
            decision=decision,
            browser_ok=problem is None,
            browser_reason=problem or "the page can read the response",
        )
    )
    result.allowed = problem is None
    result.verdict = (
        "Allowed: the page can read the response."
        if problem is None
        else f"Blocked: the server answers, but the browser hides the response from the page "
        f"({problem})."
    )
    return result
