"""The policy endpoint consumers poll, and the public keys that verify what it serves.

The hot path is a plain Django view (DRF's request wrapping, authentication and throttle
machinery cost about two thirds of a request here): it checks the service token against
this process's cache (policies.api.authentication), then makes **one** Redis round trip
that counts the request against the token's rate and reads the signed document(s), checks
what Redis held (signature and database version, policies.publishing) and answers `200`
with `ETag`, `Cache-Control: no-cache` and `Corsadmin-Signature`, or `304`. Warm, that is
no database query. `PolicyEndpointMiddleware` sends these paths here before the rest of the
middleware stack (sessions, CSRF, messages, lockout: none applies to a token GET).

Errors: `401` with `WWW-Authenticate` for a missing, wrong, expired or revoked token; `404`
(never `403`) for an API the token may not read; `429` with `Retry-After` over
`CORSADMIN_POLICY_RATE` (per token, shared through Redis; per process while Redis is down).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from policies import publishing, signing, store
from policies.api.authentication import (
    REALM,
    ServicePrincipal,
    ServiceTokenAuthentication,
    note_service_use,
    service_principal,
)
from policies.publishing import Signed
from policies.secrets import SERVICE_PREFIX, digest_of

SIGNATURE_HEADER = "Corsadmin-Signature"


class HasServiceToken(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.auth, ServicePrincipal)


class PerTokenThrottle(SimpleRateThrottle):
    """DRF's throttle on the Django cache, for the report endpoint (rarely called)."""

    scope = "policy"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        if not isinstance(request.auth, ServicePrincipal):
            return None
        return f"throttle:policy:{request.auth.id}"


# --- the rate limit ------------------------------------------------------------------------

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_parsed_rates: dict[str, tuple[int, int]] = {}


def _rate() -> tuple[int, int]:
    """(requests, window seconds) of CORSADMIN_POLICY_RATE, e.g. "600/minute"."""
    text: str = settings.CORSADMIN_POLICY_RATE
    parsed = _parsed_rates.get(text)
    if parsed is None:
        number, _, period = text.partition("/")
        parsed = _parsed_rates[text] = (int(number), _PERIODS[period.strip()[:1]])
    return parsed


class _LocalLimiter:
    """Fixed windows per token, in this process: the limit while Redis is unreachable."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> tuple[int, float]:
        now = time.monotonic()
        with self._lock:
            started, count = self._windows.get(key, (now, 0))
            if now - started >= window:
                started, count = now, 0
            if len(self._windows) > 10_000:
                self._windows.clear()
            self._windows[key] = (started, count + 1)
        return count + 1, started + window - now


_local_limiter = _LocalLimiter()


# --- responses -----------------------------------------------------------------------------


def _json(status: int, detail: str, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps({"detail": detail}), status=status, content_type="application/json"
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _unauthorized() -> HttpResponse:
    return _json(401, "the token is missing, wrong, expired or revoked", WWW_Authenticate=REALM)


def _not_found(slug: str) -> HttpResponse:
    # The same answer for "no such API" and "not yours": a token cannot probe which exist.
    return _json(404, f"no policy {slug!r} for this token")


def _matches(request: HttpRequest, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if not header:
        return False
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates or "*" in candidates


def _respond(
    request: HttpRequest, body: bytes, etag: str, signature: str | None = None
) -> HttpResponse:
    if _matches(request, etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
        # (CommonMiddleware, which would set it, is not on this path; without it the
        # server sends the body chunked.)
        response["Content-Length"] = str(len(body))
        if signature is not None:
            response[SIGNATURE_HEADER] = signature
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


def _authenticate(request: HttpRequest) -> tuple[ServicePrincipal, str] | None:
    header: str = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(SERVICE_PREFIX):
        return None
    digest = digest_of(secret)
    principal = service_principal(digest)
    if principal is None:
        return None
    note_service_use(principal.id)
    return principal, digest


def _poll(
    request: HttpRequest, slugs: list[str] | None
) -> tuple[HttpResponse | None, dict[str, Signed | None]]:
    """Authenticate, count the request, read the documents of `slugs` (None: every one the
    token may read): (a refusal or None, slug -> document or None)."""
    authenticated = _authenticate(request)
    if authenticated is None:
        return _unauthorized(), {}
    principal, digest = authenticated
    mine = sorted(principal.apis) if slugs is None else [s for s in slugs if s in principal.apis]
    limit, window = _rate()
    polled = store.poll(digest, mine, window_seconds=window)
    if polled is None:
        count, retry_after = _local_limiter.hit(digest, window)
        held: dict[str, tuple[bytes, str] | None] = dict.fromkeys(mine)
    else:
        count, retry_after = polled.count, polled.retry_after_ms / 1000
        held = polled.documents
    if count > limit:
        return _json(
            429,
            "too many requests for this token",
            Retry_After=str(max(1, int(retry_after + 0.999))),
        ), {}
    documents = {slug: publishing.served_document(slug, held.get(slug)) for slug in mine}
    return None, documents


def policy_document(request: HttpRequest, slug: str) -> HttpResponse:
    """GET /api/v1/policies/<slug>: the signed schema-1 document, ETag/304."""
    if request.method not in ("GET", "HEAD"):
        return _json(405, f"method {request.method} not allowed", Allow="GET, HEAD")
    refusal, documents = _poll(request, [slug])
    if refusal is not None:
        return refusal
    document = documents.get(slug)
    if document is None:
        return _not_found(slug)
    return _respond(request, document.body, document.etag, document.signature)


def policy_list(request: HttpRequest) -> HttpResponse:
    """GET /api/v1/policies: every document the token may read, each with its signature
    (`{"policies": [{"etag", "signature", "document"}]}`; `document` is the exact signed
    body, embedded as JSON: its canonical serialisation gives the bytes back)."""
    if request.method not in ("GET", "HEAD"):
        return _json(405, f"method {request.method} not allowed", Allow="GET, HEAD")
    refusal, documents = _poll(request, None)
    if refusal is not None:
        return refusal
    found = [document for _, document in sorted(documents.items()) if document is not None]
    body = (
        b'{"policies":['
        + b",".join(
            b'{"etag":'
            + json.dumps(d.etag).encode()
            + b',"signature":'
            + json.dumps(d.signature).encode()
            + b',"document":'
            + d.body
            + b"}"
            for d in found
        )
        + b"]}"
    )
    combined = '"' + hashlib.sha256("".join(d.etag for d in found).encode()).hexdigest()[:32] + '"'
    return _respond(request, body, combined)


def public_keys(request: HttpRequest) -> HttpResponse:
    """GET /api/v1/keys: central's public signing keys, newest first (JWKS, RFC 7517 and
    RFC 8037). No authentication: they verify, they cannot sign."""
    if request.method not in ("GET", "HEAD"):
        return _json(405, f"method {request.method} not allowed", Allow="GET, HEAD")
    body = json.dumps(signing.jwks(), sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    response = _respond(request, body, etag)
    response["Content-Type"] = "application/jwk-set+json"
    # Keys change only on rotation; a rotated-in key signs documents at once, so caches
    # must not hold the set for long.
    response["Cache-Control"] = "public, max-age=300"
    return response


# --- routing -------------------------------------------------------------------------------


class PolicyEndpointMiddleware:
    """Answers the policy endpoint and the keys before the rest of the middleware stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._prefix: str | None = None
        self._pattern: re.Pattern[str] | None = None

    def _compile(self) -> re.Pattern[str]:
        if self._pattern is None:
            document = reverse("policy-detail", kwargs={"slug": "SLUG"})
            self._prefix = document.removesuffix("SLUG")
            self._pattern = re.compile(
                "^(?:"
                + re.escape(self._prefix)
                + r"(?P<slug>[-a-zA-Z0-9_]+)|(?P<list>"
                + re.escape(reverse("policy-list"))
                + r")|(?P<keys>"
                + re.escape(reverse("public-keys"))
                + "))$"
            )
        return self._pattern

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = self._compile().match(request.path_info)
        if match is None:
            return self.get_response(request)
        if match["slug"]:
            return policy_document(request, match["slug"])
        if match["list"]:
            return policy_list(request)
        return public_keys(request)


# --- the same endpoints as DRF views, for the OpenAPI schema ------------------------------
# (They answer too, if the middleware is left out; the work is the plain views' above.)


class _Documented(APIView):
    # Declared for the schema; the plain views authenticate and limit for themselves.
    authentication_classes = [ServiceTokenAuthentication]
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def perform_authentication(self, request: Request) -> None:
        return None


class PolicyDocumentView(_Documented):
    @extend_schema(
        operation_id="policy_document",
        summary="The policy document of one API",
        responses={200: OpenApiResponse(description="schema-1 policy document"), 304: None},
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        return policy_document(request._request, slug)


class PolicyListView(_Documented):
    @extend_schema(
        operation_id="policy_documents",
        summary="Every policy document this token may read",
        responses={
            200: OpenApiResponse(description='{"policies": [{"etag", "signature", "document"}]}')
        },
    )
    def get(self, request: Request) -> HttpResponse:
        return policy_list(request._request)


class PublicKeysView(_Documented):
    authentication_classes: list[Any] = []

    @extend_schema(
        operation_id="public_keys",
        summary="The public keys that verify signed documents (JWKS)",
        responses={200: OpenApiResponse(description='{"keys": [{"kty": "OKP", ...}]}')},
    )
    def get(self, request: Request) -> HttpResponse:
        return public_keys(request._request)
