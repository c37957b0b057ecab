"""What every management endpoint shares: who acts, If-Match, and one mapping of errors.

Views stay thin: they look up what the URL names (404 for what the user cannot see), parse the
request, call one function of `policies.services` and serialise the result. The service
exceptions become HTTP answers here and nowhere else:

- `ValidationFailed` -> 400, the service's field-by-field messages, plus `findings` (lint
  findings with their rule ids) when the policy linter refused the change;
- `StaleVersion` -> 412 `{"detail": ..., "current_version": N}` and `ETag: "N"`;
- `NotPermitted` -> 403 (only ever for an API the user can see);
- `ChangeRequestPending` -> 202 `{"detail", "change_request": {...}}` (the change waits for
  approval), or 409 with the same body when an apply re-planned a stale request.

DRF's own 400s (wrong types, unknown fields, malformed JSON) are flattened into the same
`{field: [messages]}` shape, nested fields named like `origins[0].value`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from policies import permissions, services
from policies.actors import Actor
from policies.api.parsers import BoundedJSONParser
from policies.lint import Finding
from policies.models import AccessToken, Api

# The largest value a BigAutoField / PositiveBigIntegerField holds: larger ids name nothing.
MAX_ID = 2**63 - 1


def version_etag(version: int) -> str:
    return f'"{version}"'


def finding_data(finding: Finding) -> dict[str, str]:
    return {
        "rule": finding.rule,
        "severity": str(finding.severity),
        "field": finding.field,
        "value": finding.value,
        "message": finding.message,
        "fix": finding.fix,
    }


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as `{"field": [...], "origins[0].value": [...]}`."""
    flat: dict[str, list[str]] = {}

    def walk(value: Any, name: str) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                if isinstance(key, int) or (name and str(key).isdigit()):
                    walk(inner, f"{name}[{key}]")
                else:
                    walk(inner, f"{name}.{key}" if name else str(key))
        elif isinstance(value, list | tuple):
            for index, inner in enumerate(value):
                if isinstance(inner, Mapping | list | tuple):
                    walk(inner, f"{name}[{index}]")
                else:
                    walk(inner, name)
        else:
            flat.setdefault(name or "non_field_errors", []).append(str(value))

    walk(detail, prefix)
    return flat


class _Metadata(SimpleMetadata):
    """OPTIONS: name, parsers and renderers; the fields are in /api/schema/."""

    def determine_actions(self, request: Request, view: Any) -> dict[str, Any]:
        return {}


class ManagementView(GenericAPIView[Any]):
    # Base of every management endpoint: JSON in, JSON out, service errors mapped. (A comment,
    # not a docstring: drf-spectacular would show it on every operation.)

    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    metadata_class = _Metadata

    # --- who is acting -----------------------------------------------------------------------

    @property
    def user(self) -> User:
        user = self.request.user
        assert isinstance(user, User)  # IsAuthenticated ran first
        return user

    def actor(self) -> Actor:
        """A personal token acts as its owner but is audited as the token (which script)."""
        token = self.request.auth
        if isinstance(token, AccessToken):
            return Actor.for_token(
                token_id=token.pk,
                name=f"{self.user.get_username()} (token {token.prefix})",
                user=self.user,
            )
        return Actor.for_user(self.user)

    # --- what the URL names ----------------------------------------------------------------

    def visible_apis(self) -> QuerySet[Api]:
        return permissions.visible_apis(self.user).select_related("team", "updated_by")

    def get_api(self, slug: str) -> Api:
        # One answer for "no such API" and "not yours": existence is not revealed.
        api = self.visible_apis().filter(slug=slug).first()
        if api is None:
            raise exceptions.NotFound(f"no API {slug!r}")
        return api

    def get_editable_api(self, slug: str) -> Api:
        api = self.get_api(slug)
        self.require_edit(api)
        return api

    def require_edit(self, api: Api) -> None:
        # Checked before the body is read, so a read-only user gets 403 whatever they send;
        # the service checks again (it is the authority).
        if not permissions.can_edit(self.user, api):
            raise exceptions.PermissionDenied(
                f"{self.user.get_username()} may read {api.slug} but not change it"
            )

    # --- preconditions ---------------------------------------------------------------------

    def expected_version(self) -> int | None:
        """The API version in `If-Match` (`3`, `"3"` or `W/"3"`); None when absent or `*`."""
        header = self.request.headers.get("If-Match")
        if header is None or header.strip() in ("", "*"):
            return None
        value = header.strip().removeprefix("W/").strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            raise exceptions.ValidationError(
                {"If-Match": [f'expected the API\'s version, e.g. "3", not {header.strip()!r}']}
            )
        return int(value)

    # --- errors ------------------------------------------------------------------------------

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.ValidationFailed):
            body: dict[str, Any] = dict(exc.errors)
            if exc.findings:
                body["findings"] = [finding_data(finding) for finding in exc.findings]
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, services.ChangeRequestPending):
            return pending_response(exc)
        if isinstance(exc, services.StaleVersion):
            response = Response(
                {"detail": exc.message, "current_version": exc.current},
                status=status.HTTP_412_PRECONDITION_FAILED,
            )
            response["ETag"] = version_etag(exc.current)
            return response
        if isinstance(exc, services.NotPermitted):
            exc = exceptions.PermissionDenied(exc.message)
        elif isinstance(exc, exceptions.ValidationError):
            exc = exceptions.ValidationError(flatten_errors(exc.detail))
        return super().handle_exception(exc)


def with_etag(response: Response, version: int) -> Response:
    response["ETag"] = version_etag(version)
    return response


def current_version(api_id: int) -> int:
    return int(Api.objects.values_list("version", flat=True).get(pk=api_id))


def query_text(request: Request, name: str) -> str | None:
    """A query parameter; NUL is refused (PostgreSQL cannot store or compare it)."""
    value = request.query_params.get(name)
    if value is not None and "\x00" in value:
        raise exceptions.ValidationError({name: ["NUL characters are not allowed"]})
    return value


def none_match(request: Request, version: int) -> bool:
    """True when `If-None-Match` names `version`: the client's copy is current (304)."""
    header = request.headers.get("If-None-Match", "")
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return version_etag(version) in candidates or "*" in candidates


def pending_response(exc: services.ChangeRequestPending) -> Response:
    from django.urls import reverse

    from policies.api.change_request_serializers import PendingSerializer

    request = visible_request(exc.change_request.pk)
    body = PendingSerializer({"detail": exc.message, "change_request": request}).data
    code = status.HTTP_409_CONFLICT if exc.replanned else status.HTTP_202_ACCEPTED
    response = Response(body, status=code)
    response["Location"] = reverse("change-request-detail", kwargs={"pk": request.pk})
    return response


def visible_request(pk: int) -> Any:
    from policies.models import ChangeRequest

    return (
        ChangeRequest.objects.select_related("api")
        .prefetch_related("approvals", "comments")
        .get(pk=pk)
    )
