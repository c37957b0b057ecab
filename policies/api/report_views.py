"""POST /api/v1/reports: consumer telemetry (heartbeats and refused-origin counts)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from policies import metrics, services
from policies.api.authentication import ServicePrincipal, ServiceTokenAuthentication
from policies.api.policy_views import HasServiceToken, PerTokenThrottle


class ReportView(APIView):
    authentication_classes = [ServiceTokenAuthentication]
    permission_classes = [HasServiceToken]
    throttle_classes = [PerTokenThrottle]

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # Rejections before the handler (bad token, throttled) are counted too.
        metrics.count_report(status=response.status_code)
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        summary="Consumer telemetry: heartbeats and counts of refused requests",
        request=None,
        responses={
            202: OpenApiResponse(
                description='{"stored": n, "ignored": m, "limited": k, "detail": [...]}: '
                "limited entries were refused by a storage limit, named in detail"
            ),
            400: OpenApiResponse(description='{"errors": {"field": ["message"]}}'),
        },
    )
    def post(self, request: Request) -> Response:
        principal = request.auth
        assert isinstance(principal, ServicePrincipal)
        try:
            outcome = services.record_consumer_report(
                token_id=principal.id,
                token_name=principal.name,
                apis=principal.apis,
                payload=request.data,
            )
        except services.ValidationFailed as exc:
            return Response({"errors": exc.errors}, status=400)
        metrics.count_report_entries(stored=outcome.stored, ignored=outcome.ignored)
        body: dict[str, Any] = {"stored": outcome.stored, "ignored": outcome.ignored}
        if outcome.limited:
            body.update(limited=outcome.limited, detail=outcome.detail)
        return Response(body, status=202)
