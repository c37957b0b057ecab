"""The policy endpoint: what consumer services poll. Served from Redis; ETag/304."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from policies import metrics
from policies.api.authentication import ServicePrincipal, ServiceTokenAuthentication
from policies.publishing import document_for


class HasServiceToken(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.auth, ServicePrincipal)


class PerTokenThrottle(SimpleRateThrottle):
    scope = "policy"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        if not isinstance(request.auth, ServicePrincipal):
            return None
        return f"throttle:policy:{request.auth.id}"


def _matches(request: Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates or "*" in candidates


def _respond(request: Request, body: bytes, etag: str) -> HttpResponse:
    if _matches(request, etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


class _PolicyView(APIView):
    authentication_classes = [ServiceTokenAuthentication]
    permission_classes = [HasServiceToken]
    throttle_classes = [PerTokenThrottle]

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # Every answer is counted, the 401s and 429s DRF gives before the handler included.
        metrics.count_document_answer(response.status_code)
        return super().finalize_response(request, response, *args, **kwargs)

    def _principal(self) -> ServicePrincipal:
        assert isinstance(self.request.auth, ServicePrincipal)
        return self.request.auth


def _not_found(slug: str) -> HttpResponse:
    # The same answer for "no such API" and "not yours": a token cannot probe which exist.
    return HttpResponse(
        json.dumps({"detail": f"no policy {slug!r} for this token"}),
        status=404,
        content_type="application/json",
    )


class PolicyDocumentView(_PolicyView):
    @extend_schema(
        operation_id="policy_document",
        summary="The policy document of one API",
        responses={200: OpenApiResponse(description="schema-1 policy document"), 304: None},
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        if slug not in self._principal().apis:
            return _not_found(slug)
        found = document_for(slug)
        if found is None:
            return _not_found(slug)
        return _respond(request, *found)


class PolicyListView(_PolicyView):
    @extend_schema(
        operation_id="policy_documents",
        summary="Every policy document this token may read",
        responses={200: OpenApiResponse(description='{"policies": [{"etag", "document"}]}')},
    )
    def get(self, request: Request) -> HttpResponse:
        entries = []
        for slug in sorted(self._principal().apis):
            found = document_for(slug)
            if found is not None:
                entries.append((slug, *found))
        body = (
            b'{"policies":['
            + b",".join(
                b'{"etag":' + json.dumps(etag).encode() + b',"document":' + doc + b"}"
                for _, doc, etag in entries
            )
            + b"]}"
        )
        combined = (
            '"' + hashlib.sha256("".join(e for _, _, e in entries).encode()).hexdigest()[:32] + '"'
        )
        return _respond(request, body, combined)
