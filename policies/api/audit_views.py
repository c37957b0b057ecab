"""`GET /api/v1/audit/`: the audit log, filtered, newest first, cursor-paginated.

People see the events of the APIs they can see (and of their teams' APIs since deleted);
superusers see every event, including those about no API (personal tokens, logins).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from policies import audit_selectors
from policies.api.base import ManagementView, query_text
from policies.api.pagination import AuditCursor
from policies.api.schema import errors
from policies.api.serializers import AuditEventSerializer
from policies.models import AuditAction, AuditEvent

_WHEN_HELP = "ISO 8601 date (2026-01-31) or date-time (2026-01-31T12:00:00Z; UTC when no offset)."


def _bound(request: Request, name: str) -> tuple[datetime, bool] | None:
    """A query parameter as (aware datetime, whether it was a date); UTC when no offset."""
    raw = (query_text(request, name) or "").strip()
    if not raw:
        return None
    try:
        day = parse_date(raw)
        is_date = day is not None
        if day is not None:
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            moment + timedelta(days=1)  # the end of 9999-12-31 overflows here, not later
        else:
            parsed = parse_datetime(raw)
            if parsed is None:
                raise ValueError(raw)
            moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            moment.astimezone(UTC)  # so do offsets at datetime's limits
    except (ValueError, OverflowError):
        raise exceptions.ValidationError(
            {name: [f"{raw!r} is not an ISO date or date-time"]}
        ) from None
    return moment, is_date


@extend_schema(tags=["audit"])
class AuditListView(ManagementView):
    queryset = AuditEvent.objects.none()
    pagination_class = AuditCursor

    @extend_schema(
        operation_id="audit_list",
        summary="The audit log, newest first",
        parameters=[
            OpenApiParameter("api", OpenApiTypes.STR, description="The API's slug."),
            OpenApiParameter(
                "actor",
                OpenApiTypes.STR,
                description="A username (also matches that user's personal tokens), a token "
                "or system actor's name.",
            ),
            OpenApiParameter("action", OpenApiTypes.STR, enum=AuditAction.values),
            OpenApiParameter(
                "since", OpenApiTypes.STR, description=f"From (inclusive). {_WHEN_HELP}"
            ),
            OpenApiParameter(
                "until",
                OpenApiTypes.STR,
                description=f"Up to (inclusive; a date includes the whole day). {_WHEN_HELP}",
            ),
        ],
        responses={200: AuditEventSerializer(many=True), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        action = query_text(request, "action")
        if action is not None and action not in AuditAction.values:
            raise exceptions.ValidationError(
                {"action": [f"{action!r} is not one of: {', '.join(AuditAction.values)}"]}
            )
        since = _bound(request, "since")
        until = _bound(request, "until")
        before = None
        if until is not None:
            moment, is_date = until
            # A date includes the whole day; a date-time is inclusive.
            before = moment + (timedelta(days=1) if is_date else timedelta(microseconds=1))
        events = audit_selectors.filter_events(
            audit_selectors.events_visible_to(self.user),
            api=query_text(request, "api"),
            actor=query_text(request, "actor"),
            action=action,
            since=since[0] if since else None,
            before=before,
        )
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)
