"""OpenAPI details drf-spectacular cannot infer: token schemes, common parameters and errors.

Imported by `policies.api.urls`, so the extensions are registered before a schema is built.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from policies.api.serializers import (
    ErrorSerializer,
    StaleVersionSerializer,
    ValidationErrorSerializer,
)


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "policies.api.authentication.AccessTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token (corsp_...) acting as its owner: "
            "`python manage.py create_access_token <username>`.",
        }


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "policies.api.authentication.ServiceTokenAuthentication"
    name = "serviceToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A service token (cors_...) scoped to the APIs it may read.",
        }


IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description='The API version the change is based on (the ETag of a read, e.g. "3"). '
    "Optional but honoured: a stale version gets 412 and changes nothing.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag you have: 304 without a body when it is still current.",
)
COMMENT = OpenApiParameter(
    "comment",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    required=False,
    description="Why: recorded with the change in the audit log.",
)


def etag_header(*codes: int) -> OpenApiParameter:
    return OpenApiParameter(
        "ETag",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=list(codes),
        description='The API\'s version, quoted ("3"): send it back in If-Match.',
    )


_ERRORS: dict[int, OpenApiResponse] = {
    400: OpenApiResponse(
        ValidationErrorSerializer,
        description="Invalid input: {field: [messages]}, plus lint `findings` (with rule ids) "
        "when the policy linter refused the change.",
    ),
    401: OpenApiResponse(ErrorSerializer, description="Missing, wrong, expired or revoked token."),
    403: OpenApiResponse(
        ErrorSerializer, description="You may read this API but not change it (or no CSRF token)."
    ),
    404: OpenApiResponse(ErrorSerializer, description="No such API, or not one you can see."),
    412: OpenApiResponse(
        StaleVersionSerializer, description="If-Match names a version that is no longer current."
    ),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: _ERRORS[code] for code in codes}


def _close_request_bodies(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    schemas: dict[str, Any] = result.get("components", {}).get("schemas", {})
    for name, component in schemas.items():
        if name.endswith("Request") and component.get("type") == "object":
            # The server refuses unknown keys; say so.
            component["additionalProperties"] = False
    error = schemas.get("ValidationError")
    if error is not None:
        error["additionalProperties"] = {"type": "array", "items": {"type": "string"}}
    return result


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    return _close_request_bodies(result)
