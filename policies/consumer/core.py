"""The hot path: what a request gets, computed once per (origin, method, policy version).

``Outcome`` is everything a middleware needs, ready to use: the action (pass the request
through, answer the preflight now, or add headers to the application's response), the status
of a preflight answer, the CORS headers as a list of ``(name, value)`` strings (WSGI), as a
Django header store fragment, and as lower-case bytes (ASGI), the ``Vary`` value to merge, and
the refusal code to count. ``PolicyOutcomes`` keeps the outcomes of one compiled policy in
bounded memos (cleared when full, so 200,000 random origins cannot grow memory), keyed by the
origin for actual requests and by (origin, method, requested headers, private network) for
preflights; a new document is a new ``PolicyOutcomes``, so a memo never outlives its version.

The engine (``policies.cors``) makes every decision; this module only caches and shapes it.
No Django import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from policies.cors import CompiledPolicy, Decision, decide_without_policy, merge_vary

__all__ = [
    "ADD",
    "ANSWER",
    "CORS_RESPONSE_HEADERS",
    "PASS",
    "ColdOutcomes",
    "Outcome",
    "PolicyOutcomes",
    "merge_bytes_headers",
    "merge_str_headers",
    "merged_vary",
    "own_origin",
]

PASS: Final = 0
"""Leave the request and its response to the application (uncovered path, mode off,
report-only)."""
ANSWER: Final = 1
"""A preflight on a covered path in enforce mode: answer it now, without the application."""
ADD: Final = 2
"""An actual request on a covered path in enforce mode: the application answers, and its
response's CORS headers become exactly these (``Vary`` merged)."""

CORS_RESPONSE_HEADERS: Final = frozenset(
    {
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
        "access-control-max-age",
        "access-control-allow-private-network",
    }
)
_REPLACED: Final = CORS_RESPONSE_HEADERS | {"vary"}
_REPLACED_BYTES: Final = frozenset(name.encode() for name in _REPLACED)
_REASONS: Final = {200: "200 OK", 403: "403 Forbidden"}

MEMO_SIZE: Final = 2048
"""Outcomes kept per policy and kind (actual, preflight); the memo is cleared when full."""
_MEMO_KEY_LENGTH: Final = 512
_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}


class Outcome:
    """What one kind of request gets (immutable by convention: shared between requests)."""

    __slots__ = (
        "action",
        "answer_bytes",
        "answer_str",
        "api",
        "code",
        "decision",
        "headers",
        "headers_bytes",
        "refused",
        "status",
        "status_line",
        "store",
        "vary",
        "vary_bytes",
    )
    headers: tuple[tuple[str, str], ...]
    vary: str
    vary_bytes: bytes
    store: dict[str, tuple[str, str]]
    """Django's ResponseHeaders store fragment: {lower name: (name, value)}."""
    headers_bytes: tuple[tuple[bytes, bytes], ...]
    answer_str: tuple[tuple[str, str], ...]
    """A preflight answer's whole header list (WSGI)."""
    answer_bytes: tuple[tuple[bytes, bytes], ...]
    """The same, lower-case bytes (ASGI)."""

    def __init__(
        self,
        decision: Decision,
        api: str,
        shapes: dict[tuple[tuple[str, str], ...], Outcome] | None = None,
    ) -> None:
        self.decision = decision
        self.api = api
        self.code: str = decision.code
        if not decision.applies:
            self.action = PASS
        elif decision.mode != "enforce":
            self.action = PASS  # report-only: the response stays the application's
        elif decision.preflight:
            self.action = ANSWER
        else:
            self.action = ADD
        # Counted: a refused CORS request, in enforce or report-only mode.
        self.refused: str | None = (
            decision.code if decision.applies and not decision.allowed else None
        )
        self.status: int = decision.status or 403
        self.status_line: str = _REASONS.get(self.status, f"{self.status} Preflight")
        key = tuple(decision.headers.items())
        same = shapes.get(key) if shapes is not None else None
        if same is not None:
            # The same headers as an earlier outcome (every refusal of a policy: only Vary):
            # share its ready lists, so many distinct refused origins cost little memory.
            self.headers = same.headers
            self.vary = same.vary
            self.vary_bytes = same.vary_bytes
            self.store = same.store
            self.headers_bytes = same.headers_bytes
            self.answer_str = same.answer_str
            self.answer_bytes = same.answer_bytes
            return
        cors = [(name, value) for name, value in key if name != "Vary"]
        self.headers = tuple(cors)
        self.vary = decision.headers.get("Vary", "")
        self.vary_bytes = self.vary.encode("latin-1")
        # Django's ResponseHeaders store: {lower name: (name, value)}. Values come from the
        # engine (a canonical origin, validated names), so they need no re-validation.
        self.store = {name.lower(): (name, v) for name, v in cors}
        self.headers_bytes = tuple(
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in cors
        )
        answer = [*cors, ("Content-Type", "text/plain"), ("Content-Length", "0")]
        if self.vary:
            answer.append(("Vary", self.vary))
        self.answer_str = tuple(answer)
        self.answer_bytes = tuple(
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer
        )
        if shapes is not None and not decision.allowed and len(shapes) < 64:
            shapes[key] = self

    def __repr__(self) -> str:
        kind = {PASS: "pass", ANSWER: "answer", ADD: "add"}[self.action]
        return f"<Outcome {self.api} {kind} {self.code}>"


def _headers(
    origin: str | None, method: str | None, requested: str | None, pna: str | None
) -> dict[str, str]:
    headers: dict[str, str] = {}
    if origin is not None:
        headers["origin"] = origin
    if method is not None:
        headers["access-control-request-method"] = method
    if requested is not None:
        headers["access-control-request-headers"] = requested
    if pna is not None:
        headers["access-control-request-private-network"] = pna
    return headers


class PolicyOutcomes:
    """The outcomes of one compiled policy, memoised (see the module docstring)."""

    __slots__ = ("_actual", "_no_origin", "_preflight", "_shapes", "api", "covers", "policy")

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.api = policy.api
        self.covers = policy.covers_path
        self._actual: dict[str, Outcome] = {}
        self._preflight: dict[tuple[str, str, str | None, str | None], Outcome] = {}
        self._no_origin: Outcome | None = None
        self._shapes: dict[tuple[tuple[str, str], ...], Outcome] = {}

    def outcome(
        self,
        method: str,
        path: str,
        origin: str | None,
        request_method: str | None,
        request_headers: str | None,
        private_network: str | None,
    ) -> Outcome:
        """The outcome for a request on a covered ``path`` (the caller checked ``covers``)."""
        if origin is None:
            found = self._no_origin
            if found is None:
                found = self._no_origin = Outcome(self.policy.decide(method, path, {}), self.api)
            return found
        if method == "OPTIONS" and request_method is not None:
            key = (origin, request_method, request_headers, private_network)
            found = self._preflight.get(key)
            if found is None:
                found = Outcome(
                    self.policy.decide(
                        method,
                        path,
                        _headers(origin, request_method, request_headers, private_network),
                    ),
                    self.api,
                    self._shapes,
                )
                if len(origin) + len(request_headers or "") <= _MEMO_KEY_LENGTH:
                    if len(self._preflight) >= MEMO_SIZE:
                        self._preflight.clear()
                    self._preflight[key] = found
            return found
        found = self._actual.get(origin)
        if found is None:
            # An actual request's answer depends on the origin only (not the method).
            found = Outcome(
                self.policy.decide(method, path, {"origin": origin}), self.api, self._shapes
            )
            if len(origin) <= _MEMO_KEY_LENGTH:
                if len(self._actual) >= MEMO_SIZE:
                    self._actual.clear()
                self._actual[origin] = found
        return found

    def memo_sizes(self) -> tuple[int, int]:
        """(actual, preflight) outcomes held: never more than ``MEMO_SIZE`` each."""
        return len(self._actual), len(self._preflight)


class ColdOutcomes:
    """An API with no document yet (cold start): the engine's refusal, never falling open."""

    __slots__ = ("api",)

    def __init__(self, api: str) -> None:
        self.api = api

    def outcome(
        self,
        method: str,
        path: str,
        origin: str | None,
        request_method: str | None,
        request_headers: str | None,
        private_network: str | None,
    ) -> Outcome:
        decision = decide_without_policy(
            method=method,
            path=path,
            headers=_headers(origin, request_method, request_headers, private_network),
        )
        return Outcome(decision, self.api)


def own_origin(scheme: str, host: str | None) -> str | None:
    """The serialized origin of the service itself, from the request's scheme and Host
    (only worked out for refusals: a same-origin request carrying ``Origin`` is no refusal)."""
    if not host:
        return None
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        name = host[: end + 1]
        port = host[end + 2 :] if host[end + 1 : end + 2] == ":" else ""
    else:
        name, _, port = host.partition(":")
    if port and _DEFAULT_PORTS.get(scheme) != port:
        return f"{scheme}://{name}:{port}"
    return f"{scheme}://{name}"


_VARY_MEMO: dict[tuple[str, str], str] = {}


def merged_vary(existing: str, ours: str) -> str:
    """``merge_vary(existing, ours)``, memoised (bounded): responses of one service carry
    the same few ``Vary`` values over and over."""
    key = (existing, ours)
    found = _VARY_MEMO.get(key)
    if found is None:
        found = merge_vary(existing, ours)
        if len(existing) <= _MEMO_KEY_LENGTH:
            if len(_VARY_MEMO) >= 256:
                _VARY_MEMO.clear()
            _VARY_MEMO[key] = found
    return found


def merge_str_headers(
    existing: Iterable[tuple[str, str]], outcome: Outcome
) -> list[tuple[str, str]]:
    """``existing`` (WSGI) response headers with the application's CORS headers replaced by
    the outcome's and ``Vary`` merged into one header."""
    kept: list[tuple[str, str]] = []
    vary: str | None = None
    for item in existing:
        lower = item[0].lower()
        if lower in _REPLACED:
            if lower == "vary":
                vary = item[1] if vary is None else f"{vary}, {item[1]}"
            continue
        kept.append(item)
    kept.extend(outcome.headers)
    merged = outcome.vary if vary is None else merged_vary(vary, outcome.vary)
    if merged:
        kept.append(("Vary", merged))
    return kept


def merge_bytes_headers(
    existing: Iterable[tuple[bytes, bytes]], outcome: Outcome
) -> list[tuple[bytes, bytes]]:
    """The same for ASGI's lower-case byte header lists (no decoding of other headers)."""
    kept: list[tuple[bytes, bytes]] = []
    vary: bytes | None = None
    for item in existing:
        name = item[0]
        if name.lower() in _REPLACED_BYTES:
            if name.lower() == b"vary":
                vary = item[1] if vary is None else vary + b", " + item[1]
            continue
        kept.append(item)
    kept.extend(outcome.headers_bytes)
    if vary is None:
        if outcome.vary_bytes:
            kept.append((b"vary", outcome.vary_bytes))
    else:
        merged = merged_vary(vary.decode("latin-1"), outcome.vary)
        kept.append((b"vary", merged.encode("latin-1")))
    return kept


def request_headers_of(headers: Mapping[str, str]) -> tuple[str | None, ...]:
    """(origin, request method, request headers, private network) from any-case headers."""
    lowered = {key.lower(): value for key, value in headers.items()}
    return (
        lowered.get("origin"),
        lowered.get("access-control-request-method"),
        lowered.get("access-control-request-headers"),
        lowered.get("access-control-request-private-network"),
    )
