"""The management API: APIs, origin rules, service tokens, versions and rollback.

Every write goes through `policies.services` (authorise, validate, version, audit in one
transaction); views look up, parse, call, serialise. Errors are mapped in `base.py`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from policies import permissions, services
from policies.api import serializers as s
from policies.api.base import (
    MAX_ID,
    ManagementView,
    current_version,
    none_match,
    query_text,
    with_etag,
)
from policies.api.change_request_serializers import PendingSerializer
from policies.api.pagination import Pages
from policies.api.schema import COMMENT, IF_MATCH, IF_NONE_MATCH, errors, etag_header
from policies.models import Api, Environment, Mode, OriginRule, PolicyVersion, ServiceToken

READ = errors(401, 404)
WRITE = errors(400, 401, 403, 404, 412)
# A write that widens access where approval is needed opens a change request instead.
PLANNED = {
    **WRITE,
    202: OpenApiResponse(
        PendingSerializer,
        description="Not applied: the change widens access on an API whose environment needs "
        "approval, so it waits in the change request named here (state open).",
    ),
}


def _comment(request: Request) -> str:
    return query_text(request, "comment") or ""


def _id(value: int) -> int:
    # Larger than any stored id: it names nothing (and must not reach the database).
    if value > MAX_ID:
        raise exceptions.NotFound("not found")
    return value


def _with_origins(queryset: QuerySet[Api]) -> QuerySet[Api]:
    return queryset.prefetch_related(
        Prefetch("origins", queryset=OriginRule.objects.select_related("created_by"))
    )


def _represent_api(api_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
    api = _with_origins(Api.objects.select_related("team", "updated_by")).get(pk=api_id)
    response = Response(s.ApiSerializer(api).data, status=status_code)
    return with_etag(response, api.version)


@csrf_exempt  # it changes nothing, and answers every method alike
def no_such_endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse({"detail": f"no endpoint {request.path}"}, status=404)


# --- APIs -----------------------------------------------------------------------------------


class _ApiView(ManagementView):
    queryset = Api.objects.none()
    lookup_field = "slug"

    def team_named(self, name: str) -> Group:
        """A team of the user's (any team for a superuser); other names are unknown here."""
        user = self.user
        teams = Group.objects.all()
        if not user.is_superuser:
            teams = teams.filter(id__in=permissions.team_ids(user))
        team = teams.filter(name=name).first()
        if team is None:
            editable = ", ".join(permissions.editable_teams(user).values_list("name", flat=True))
            raise exceptions.ValidationError(
                {"team": [f"{name!r} is not one of your teams (yours: {editable or 'none'})"]}
            )
        return team

    def represent(self, api_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
        return _represent_api(api_id, status_code=status_code)


@extend_schema(tags=["apis"])
class ApiListView(_ApiView):
    pagination_class = Pages

    @extend_schema(
        operation_id="apis_list",
        summary="The APIs you can see",
        parameters=[
            OpenApiParameter("team", OpenApiTypes.STR, description="Team (group) name."),
            OpenApiParameter("environment", OpenApiTypes.STR, enum=Environment.values),
            OpenApiParameter("mode", OpenApiTypes.STR, enum=Mode.values),
            OpenApiParameter(
                "q", OpenApiTypes.STR, description="Search slug, name, description and origins."
            ),
        ],
        responses={200: s.ApiSerializer(many=True), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        apis = _with_origins(self.visible_apis())
        for name, choices in (("environment", Environment.values), ("mode", Mode.values)):
            value = query_text(request, name)
            if value is not None:
                if value not in choices:
                    raise exceptions.ValidationError(
                        {name: [f"{value!r} is not one of: {', '.join(choices)}"]}
                    )
                apis = apis.filter(**{name: value})
        team = query_text(request, "team")
        if team is not None:
            apis = apis.filter(team__name=team)
        query = (query_text(request, "q") or "").strip()
        if query:
            apis = apis.filter(
                Q(slug__icontains=query)
                | Q(name__icontains=query)
                | Q(description__icontains=query)
                | Q(pk__in=OriginRule.objects.filter(value__icontains=query).values("api_id"))
            )
        page = self.paginate_queryset(apis.order_by("slug"))
        return self.get_paginated_response(s.ApiSerializer(page, many=True).data)

    @extend_schema(
        operation_id="apis_create",
        summary="Create an API (in a team you may edit)",
        request=s.ApiCreateSerializer,
        responses={201: s.ApiSerializer, **errors(400, 401, 403)},
        parameters=[etag_header(201)],
    )
    def post(self, request: Request) -> Response:
        serializer = s.ApiCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        team = self.team_named(data.pop("team"))
        api = services.create_api(
            actor=self.actor(),
            slug=data.pop("slug"),
            name=data.pop("name"),
            team=team,
            origins=[dict(origin) for origin in data.pop("origins", [])],
            comment=data.pop("comment", ""),
            **data,
        )
        response = self.represent(api.pk, status_code=status.HTTP_201_CREATED)
        response["Location"] = reverse("api-detail", kwargs={"slug": api.slug})
        return response


@extend_schema(tags=["apis"])
class ApiDetailView(_ApiView):
    @extend_schema(
        operation_id="apis_retrieve",
        summary="One API, with its origins and lint findings",
        parameters=[IF_NONE_MATCH, etag_header(200, 304)],
        responses={
            200: s.ApiSerializer,
            304: OpenApiResponse(description="Not modified: your ETag is current."),
            **READ,
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        api = self.get_api(slug)
        if none_match(request, api.version):
            return with_etag(Response(status=status.HTTP_304_NOT_MODIFIED), api.version)
        return self.represent(api.pk)

    def _update(self, request: Request, slug: str, *, partial: bool) -> Response:
        api = self.get_editable_api(slug)
        expected = self.expected_version()
        serializer_class = s.ApiUpdateSerializer if partial else s.ApiReplaceSerializer
        serializer = serializer_class(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        comment = changes.pop("comment", "")
        team_name = changes.pop("team", None)
        team = self.team_named(team_name) if team_name not in (None, api.team.name) else None
        updated = services.update_api(
            actor=self.actor(),
            api=api,
            expected_version=expected,
            comment=comment,
            team=team,
            **changes,
        )
        return self.represent(updated.pk)

    @extend_schema(
        operation_id="apis_update",
        summary="Replace an API's settings (every field)",
        request=s.ApiReplaceSerializer,
        parameters=[IF_MATCH, etag_header(200)],
        responses={200: s.ApiSerializer, **PLANNED},
    )
    def put(self, request: Request, slug: str) -> Response:
        return self._update(request, slug, partial=False)

    @extend_schema(
        operation_id="apis_partial_update",
        summary="Change some of an API's settings",
        request=s.ApiUpdateSerializer,
        parameters=[IF_MATCH, etag_header(200)],
        responses={200: s.ApiSerializer, **PLANNED},
    )
    def patch(self, request: Request, slug: str) -> Response:
        return self._update(request, slug, partial=True)

    @extend_schema(
        operation_id="apis_destroy",
        summary="Delete an API (its history stays in the audit log)",
        parameters=[IF_MATCH, COMMENT],
        responses={204: None, **WRITE},
    )
    def delete(self, request: Request, slug: str) -> Response:
        api = self.get_editable_api(slug)
        services.delete_api(
            actor=self.actor(),
            api=api,
            expected_version=self.expected_version(),
            comment=_comment(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- origin rules ---------------------------------------------------------------------------


class _OriginView(ManagementView):
    queryset = OriginRule.objects.none()

    def get_rule(self, api: Api, pk: int) -> OriginRule:
        rule = OriginRule.objects.select_related("created_by").filter(api=api, pk=_id(pk)).first()
        if rule is None:
            raise exceptions.NotFound(f"{api.slug} has no origin rule {pk}")
        rule.api = api
        return rule

    def represent(
        self, rule_id: int, api_id: int, *, status_code: int = status.HTTP_200_OK
    ) -> Response:
        rule = OriginRule.objects.select_related("created_by").get(pk=rule_id)
        response = Response(s.OriginSerializer(rule).data, status=status_code)
        return with_etag(response, current_version(api_id))


@extend_schema(tags=["origins"])
class OriginListView(_OriginView):
    @extend_schema(
        operation_id="origins_list",
        summary="An API's origin rules",
        parameters=[etag_header(200)],
        responses={200: s.OriginSerializer(many=True), **READ},
    )
    def get(self, request: Request, slug: str) -> Response:
        api = self.get_api(slug)
        rules = OriginRule.objects.select_related("created_by").filter(api=api)
        return with_etag(Response(s.OriginSerializer(rules, many=True).data), api.version)

    @extend_schema(
        operation_id="origins_create",
        summary="Add an origin rule",
        request=s.OriginWriteSerializer,
        parameters=[IF_MATCH, etag_header(201)],
        responses={201: s.OriginSerializer, **PLANNED},
    )
    def post(self, request: Request, slug: str) -> Response:
        api = self.get_editable_api(slug)
        expected = self.expected_version()
        serializer = s.OriginWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        rule = services.add_origin(actor=self.actor(), api=api, expected_version=expected, **data)
        response = self.represent(rule.pk, api.pk, status_code=status.HTTP_201_CREATED)
        response["Location"] = reverse("origin-detail", kwargs={"slug": slug, "pk": rule.pk})
        return response


@extend_schema(tags=["origins"])
class OriginDetailView(_OriginView):
    @extend_schema(
        operation_id="origins_retrieve",
        summary="One origin rule",
        parameters=[etag_header(200)],
        responses={200: s.OriginSerializer, **READ},
    )
    def get(self, request: Request, slug: str, pk: int) -> Response:
        api = self.get_api(slug)
        rule = self.get_rule(api, pk)
        return with_etag(Response(s.OriginSerializer(rule).data), api.version)

    def _update(self, request: Request, slug: str, pk: int, *, partial: bool) -> Response:
        api = self.get_api(slug)
        rule = self.get_rule(api, pk)
        self.require_edit(api)
        expected = self.expected_version()
        serializer_class = s.OriginUpdateSerializer if partial else s.OriginReplaceSerializer
        serializer = serializer_class(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        comment = changes.pop("comment", "")
        updated = services.update_origin(
            actor=self.actor(), rule=rule, expected_version=expected, comment=comment, **changes
        )
        return self.represent(updated.pk, api.pk)

    @extend_schema(
        operation_id="origins_update",
        summary="Replace an origin rule",
        request=s.OriginReplaceSerializer,
        parameters=[IF_MATCH, etag_header(200)],
        responses={200: s.OriginSerializer, **PLANNED},
    )
    def put(self, request: Request, slug: str, pk: int) -> Response:
        return self._update(request, slug, pk, partial=False)

    @extend_schema(
        operation_id="origins_partial_update",
        summary="Change an origin rule",
        request=s.OriginUpdateSerializer,
        parameters=[IF_MATCH, etag_header(200)],
        responses={200: s.OriginSerializer, **PLANNED},
    )
    def patch(self, request: Request, slug: str, pk: int) -> Response:
        return self._update(request, slug, pk, partial=True)

    @extend_schema(
        operation_id="origins_destroy",
        summary="Remove an origin rule",
        parameters=[IF_MATCH, COMMENT, etag_header(204)],
        responses={204: None, **WRITE},
    )
    def delete(self, request: Request, slug: str, pk: int) -> Response:
        api = self.get_api(slug)
        rule = self.get_rule(api, pk)
        self.require_edit(api)
        services.remove_origin(
            actor=self.actor(),
            rule=rule,
            expected_version=self.expected_version(),
            comment=_comment(request),
        )
        return with_etag(Response(status=status.HTTP_204_NO_CONTENT), current_version(api.pk))


# --- service tokens -------------------------------------------------------------------------


class _TokenView(ManagementView):
    queryset = ServiceToken.objects.none()

    def visible_ids(self) -> set[int]:
        return set(self.visible_apis().values_list("pk", flat=True))

    def tokens(self) -> QuerySet[ServiceToken]:
        return ServiceToken.objects.select_related("created_by").prefetch_related("apis")

    def context(self, **extra: Any) -> dict[str, Any]:
        visible = None if self.user.is_superuser else self.visible_ids()
        return {"visible_api_ids": visible, **extra}


@extend_schema(tags=["tokens"])
class ApiTokenListView(_TokenView):
    @extend_schema(
        operation_id="api_tokens_list",
        summary="Service tokens that read this API's policy (never their secrets)",
        responses={200: s.ServiceTokenSerializer(many=True), **READ},
    )
    def get(self, request: Request, slug: str) -> Response:
        api = self.get_api(slug)
        tokens = self.tokens().filter(apis=api).order_by("-created_at", "-pk")
        return Response(s.ServiceTokenSerializer(tokens, many=True, context=self.context()).data)

    @extend_schema(
        operation_id="api_tokens_create",
        summary="Issue a service token; the secret is in this response only",
        request=s.ServiceTokenIssueSerializer,
        responses={201: s.IssuedServiceTokenSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, slug: str) -> Response:
        api = self.get_editable_api(slug)
        serializer = s.ServiceTokenIssueSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        apis = [api, *self._more_apis(api, data.pop("apis", []))]
        token, secret = services.issue_service_token(actor=self.actor(), apis=apis, **data)
        body = s.IssuedServiceTokenSerializer(
            self.tokens().get(pk=token.pk), context=self.context(secret=secret)
        ).data
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Location"] = reverse("token-detail", kwargs={"pk": token.pk})
        response["Cache-Control"] = "no-store"
        return response

    def _more_apis(self, api: Api, slugs: list[str]) -> list[Api]:
        wanted = set(slugs) - {api.slug}
        found = list(self.visible_apis().filter(slug__in=wanted))
        missing = sorted(wanted - {other.slug for other in found})
        if missing:
            raise exceptions.ValidationError({"apis": [f"no API {slug!r}" for slug in missing]})
        return found


@extend_schema(tags=["tokens"])
class TokenDetailView(_TokenView):
    def get_token(self, pk: int) -> ServiceToken:
        tokens = self.tokens().filter(pk=_id(pk))
        if not self.user.is_superuser:
            tokens = tokens.filter(apis__in=self.visible_apis()).distinct()
        token = tokens.first()
        if token is None:
            raise exceptions.NotFound(f"no service token {pk}")
        return token

    @extend_schema(
        operation_id="tokens_retrieve",
        summary="One service token (never its secret)",
        responses={200: s.ServiceTokenSerializer, **READ},
    )
    def get(self, request: Request, pk: int) -> Response:
        token = self.get_token(pk)
        return Response(s.ServiceTokenSerializer(token, context=self.context()).data)

    @extend_schema(
        operation_id="tokens_revoke",
        summary="Revoke a service token (at once; idempotent; the record is kept)",
        parameters=[COMMENT],
        responses={204: None, **errors(400, 401, 403, 404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        token = self.get_token(pk)
        services.revoke_service_token(actor=self.actor(), token=token, comment=_comment(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- versions and rollback ------------------------------------------------------------------


class _VersionView(ManagementView):
    queryset = PolicyVersion.objects.none()

    def get_version(self, api: Api, version: int) -> PolicyVersion:
        found = PolicyVersion.objects.filter(api=api, version=_id(version)).first()
        if found is None:
            raise exceptions.NotFound(f"{api.slug} has no version {version}")
        return found


@extend_schema(tags=["versions"])
class VersionListView(_VersionView):
    pagination_class = Pages

    @extend_schema(
        operation_id="versions_list",
        summary="An API's versions, newest first",
        responses={200: s.PolicyVersionSerializer(many=True), **errors(400, 401, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        api = self.get_api(slug)
        page = self.paginate_queryset(PolicyVersion.objects.filter(api=api).order_by("-version"))
        return self.get_paginated_response(s.PolicyVersionSerializer(page, many=True).data)


@extend_schema(tags=["versions"])
class VersionDetailView(_VersionView):
    @extend_schema(
        operation_id="versions_retrieve",
        summary="One version: the settings and origins the API had",
        responses={200: s.PolicyVersionDetailSerializer, **READ},
    )
    def get(self, request: Request, slug: str, version: int) -> Response:
        api = self.get_api(slug)
        return Response(s.PolicyVersionDetailSerializer(self.get_version(api, version)).data)


@extend_schema(tags=["versions"])
class RollbackView(_VersionView):
    @extend_schema(
        operation_id="versions_rollback",
        summary="Make a new version with the state of this one",
        request=s.RollbackSerializer,
        parameters=[IF_MATCH, etag_header(200)],
        responses={200: s.ApiSerializer, **PLANNED},
    )
    def post(self, request: Request, slug: str, version: int) -> Response:
        api = self.get_editable_api(slug)
        self.get_version(api, version)
        expected = self.expected_version()
        serializer = s.RollbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rolled = services.rollback(
            actor=self.actor(),
            api=api,
            to_version=version,
            expected_version=expected,
            comment=serializer.validated_data.get("comment", ""),
        )
        return _represent_api(rolled.pk)
