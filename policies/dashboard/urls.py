"""The dashboard's URLs, included at the site root."""

from __future__ import annotations

from django.urls import path

from policies.dashboard import audit_views, change_request_views, team_views, token_views, views

app_name = "dashboard"

urlpatterns = [
    path("", views.api_list, name="api-list"),
    path("new/", views.api_create, name="api-create"),
    path("apis/<slug:slug>/", views.api_detail, name="api-detail"),
    path("apis/<slug:slug>/simulate/", views.api_simulate, name="api-simulate"),
    path("apis/<slug:slug>/history/", views.api_history, name="api-history"),
    path(
        "apis/<slug:slug>/history/<int:version>/rollback/",
        views.api_rollback,
        name="api-rollback",
    ),
    path("apis/<slug:slug>/delete/", views.api_delete, name="api-delete"),
    path("apis/<slug:slug>/origins/", views.origins_section, name="origins"),
    path("apis/<slug:slug>/origins/add/", views.origin_add, name="origin-add"),
    path("apis/<slug:slug>/origins/<int:rule_id>/", views.origin_row, name="origin-row"),
    path("apis/<slug:slug>/origins/<int:rule_id>/edit/", views.origin_edit, name="origin-edit"),
    path(
        "apis/<slug:slug>/origins/<int:rule_id>/toggle/",
        views.origin_toggle,
        name="origin-toggle",
    ),
    path(
        "apis/<slug:slug>/origins/<int:rule_id>/remove/",
        views.origin_remove,
        name="origin-remove",
    ),
    path("apis/<slug:slug>/refused/allow/", views.refused_allow, name="refused-allow"),
    path("apis/<slug:slug>/tokens/", token_views.api_tokens, name="api-tokens"),
    path(
        "apis/<slug:slug>/tokens/<int:token_id>/revoke/",
        token_views.api_token_revoke,
        name="api-token-revoke",
    ),
    path("tokens/", token_views.my_tokens, name="my-tokens"),
    path("tokens/<int:token_id>/revoke/", token_views.my_token_revoke, name="my-token-revoke"),
    path("audit/", audit_views.audit_log, name="audit-log"),
    path("change-requests/", change_request_views.change_request_list, name="change-requests"),
    path(
        "change-requests/<int:pk>/",
        change_request_views.change_request_detail,
        name="change-request",
    ),
    path(
        "change-requests/<int:pk>/<slug:step>/",
        change_request_views.change_request_step,
        name="change-request-step",
    ),
    path("apis/<slug:slug>/promote/", change_request_views.api_promote, name="api-promote"),
    path("teams/", team_views.team_list, name="teams"),
    path("teams/<int:pk>/", team_views.team_detail, name="team"),
    path("audit/export.csv", audit_views.audit_export_csv, name="audit-export-csv"),
    path("audit/export.jsonl", audit_views.audit_export_jsonl, name="audit-export-jsonl"),
]
