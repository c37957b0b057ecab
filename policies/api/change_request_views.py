"""The management API for change requests: list, read, approve, reject, withdraw, apply,
discuss, schedule; and promote (an API's policy onto its twin).

Thin like the other management views: look up (404 for what the user cannot see), parse,
call one function of `policies.change_requests`, serialise. Errors are mapped in `base.py`
(`ChangeRequestPending` -> 202, or 409 after a re-plan).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from policies import change_requests
from policies.api import change_request_serializers as s
from policies.api.base import MAX_ID, ManagementView, query_text, visible_request
from policies.api.management_views import _represent_api
from policies.api.pagination import Pages
from policies.api.schema import errors
from policies.api.serializers import ApiSerializer
from policies.models import ChangeRequest

PENDING_RESPONSES: dict[int, Any] = {
    202: OpenApiResponse(
        s.PendingSerializer,
        description="The change widens access where approval is needed: it waits in the "
        "change request named here (state open).",
    ),
}
REPLANNED = {
    409: OpenApiResponse(
        s.PendingSerializer,
        description="The request was planned on an older version of the API: it is re-planned "
        "against the current one (see its new diff) and nothing was applied; apply again.",
    )
}
STEP = {**errors(400, 401, 403, 404)}


class _ChangeRequestView(ManagementView):
    queryset = ChangeRequest.objects.none()

    def get_request(self, pk: int) -> ChangeRequest:
        found = change_requests.visible(self.user).filter(pk=pk).first() if pk <= MAX_ID else None
        if found is None:
            raise exceptions.NotFound(f"no change request {pk}")
        return found

    def represent(self, pk: int) -> Response:
        return Response(s.ChangeRequestSerializer(visible_request(pk)).data)


@extend_schema(tags=["change requests"])
class ChangeRequestListView(_ChangeRequestView):
    pagination_class = Pages

    @extend_schema(
        operation_id="change_requests_list",
        summary="Change requests on the APIs you can see, newest first",
        parameters=[
            OpenApiParameter("api", OpenApiTypes.STR, description="The API's slug."),
            OpenApiParameter("state", OpenApiTypes.STR, enum=s.STATES),
        ],
        responses={200: s.ChangeRequestSerializer(many=True), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        found = change_requests.visible(self.user).prefetch_related("approvals", "comments")
        state = query_text(request, "state")
        if state is not None:
            if state not in s.STATES:
                raise exceptions.ValidationError(
                    {"state": [f"{state!r} is not one of: {', '.join(s.STATES)}"]}
                )
            found = found.filter(state=state)
        api = query_text(request, "api")
        if api is not None:
            found = found.filter(api__slug=api)
        page = self.paginate_queryset(found.order_by("-pk"))
        return self.get_paginated_response(s.ChangeRequestSerializer(page, many=True).data)


@extend_schema(tags=["change requests"])
class ChangeRequestDetailView(_ChangeRequestView):
    @extend_schema(
        operation_id="change_requests_retrieve",
        summary="One change request: its plan (diff, widens, lint findings), approvals, discussion",
        responses={200: s.ChangeRequestSerializer, **errors(401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return self.represent(self.get_request(pk).pk)


def _step(operation_id: str, summary: str, body: type, extra: dict[int, Any] | None = None) -> Any:
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        request=body,
        responses={200: s.ChangeRequestSerializer, **STEP, **(extra or {})},
    )


@extend_schema(tags=["change requests"])
class ApproveView(_ChangeRequestView):
    @_step(
        "change_requests_approve",
        "Approve (a team editor other than the author); the last approval needed applies it",
        s.ApproveSerializer,
        REPLANNED,
    )
    def post(self, request: Request, pk: int) -> Response:
        found = self.get_request(pk)
        body = s.ApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change_requests.approve(
            actor=self.actor(), request=found, comment=body.validated_data.get("comment", "")
        )
        return self.represent(found.pk)


@extend_schema(tags=["change requests"])
class RejectView(_ChangeRequestView):
    @_step("change_requests_reject", "Reject, saying why", s.RejectSerializer)
    def post(self, request: Request, pk: int) -> Response:
        found = self.get_request(pk)
        body = s.RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change_requests.reject(
            actor=self.actor(), request=found, reason=body.validated_data["reason"]
        )
        return self.represent(found.pk)


@extend_schema(tags=["change requests"])
class WithdrawView(_ChangeRequestView):
    @_step("change_requests_withdraw", "Withdraw (the author)", s.WithdrawSerializer)
    def post(self, request: Request, pk: int) -> Response:
        found = self.get_request(pk)
        body = s.WithdrawSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change_requests.withdraw(
            actor=self.actor(), request=found, reason=body.validated_data.get("reason", "")
        )
        return self.represent(found.pk)


@extend_schema(tags=["change requests"])
class ApplyView(_ChangeRequestView):
    @_step(
        "change_requests_apply",
        "Apply an approved request, or break the glass (superusers, with a reason)",
        s.ApplySerializer,
        REPLANNED,
    )
    def post(self, request: Request, pk: int) -> Response:
        found = self.get_request(pk)
        body = s.ApplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data.get("break_glass", "")
        if "break_glass" in request.data and not reason.strip():
            raise exceptions.ValidationError({"break_glass": ["say why this cannot wait"]})
        change_requests.apply(actor=self.actor(), request=found, break_glass=reason)
        return self.represent(found.pk)


@extend_schema(tags=["change requests"])
class DiscussView(_ChangeRequestView):
    @extend_schema(
        operation_id="change_requests_discuss",
        summary="Add a message to the discussion",
        request=s.DiscussSerializer,
        responses={201: s.ChangeRequestSerializer, **STEP},
    )
    def post(self, request: Request, pk: int) -> Response:
        found = self.get_request(pk)
        body = s.DiscussSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change_requests.discuss(actor=self.actor(), request=found, text=body.validated_data["text"])
        response = self.represent(found.pk)
        response.status_code = status.HTTP_201_CREATED
        return response


@extend_schema(tags=["change requests"])
class ScheduleView(_ChangeRequestView):
    @_step(
        "change_requests_schedule",
        "Set when the request applies once approved (null: at once)",
        s.ScheduleSerializer,
    )
    def post(self, request: Request, pk: int) -> Response:
        found = self.get_request(pk)
        body = s.ScheduleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change_requests.schedule(
            actor=self.actor(), request=found, at=body.validated_data["scheduled_at"]
        )
        return self.represent(found.pk)


@extend_schema(tags=["apis"])
class PromoteView(ManagementView):
    @extend_schema(
        operation_id="apis_promote",
        summary="Copy this API's policy onto another (e.g. staging onto its production twin)",
        request=s.PromoteSerializer,
        responses={
            200: OpenApiResponse(ApiSerializer, description="Applied at once (widens nothing)."),
            **PENDING_RESPONSES,
            **errors(400, 401, 403, 404),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        source = self.get_api(slug)
        body = s.PromoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        target = self.get_editable_api(body.validated_data["to"])
        promoted = change_requests.promote(
            actor=self.actor(),
            source=source,
            target=target,
            comment=body.validated_data.get("comment", ""),
        )
        return _represent_api(promoted.pk)
