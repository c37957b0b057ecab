from django.urls import path, re_path

from policies.api import audit_views, change_request_views, policy_views, report_views
from policies.api import management_views as views
from policies.api import schema as _schema  # noqa: F401  (registers the token schemes)

urlpatterns = [
    path("v1/policies", policy_views.PolicyListView.as_view(), name="policy-list"),
    path(
        "v1/policies/<slug:slug>", policy_views.PolicyDocumentView.as_view(), name="policy-detail"
    ),
    path("v1/keys", policy_views.PublicKeysView.as_view(), name="public-keys"),
    path("v1/reports", report_views.ReportView.as_view(), name="consumer-reports"),
    # The management API (people: session or personal access token).
    path("v1/apis/", views.ApiListView.as_view(), name="api-list"),
    path("v1/apis/<slug:slug>/", views.ApiDetailView.as_view(), name="api-detail"),
    path("v1/apis/<slug:slug>/origins/", views.OriginListView.as_view(), name="origin-list"),
    path(
        "v1/apis/<slug:slug>/origins/<int:pk>/",
        views.OriginDetailView.as_view(),
        name="origin-detail",
    ),
    path("v1/apis/<slug:slug>/tokens/", views.ApiTokenListView.as_view(), name="api-token-list"),
    path("v1/tokens/<int:pk>/", views.TokenDetailView.as_view(), name="token-detail"),
    path("v1/apis/<slug:slug>/versions/", views.VersionListView.as_view(), name="version-list"),
    path(
        "v1/apis/<slug:slug>/versions/<int:version>/",
        views.VersionDetailView.as_view(),
        name="version-detail",
    ),
    path(
        "v1/apis/<slug:slug>/versions/<int:version>/rollback",
        views.RollbackView.as_view(),
        name="version-rollback",
    ),
    path("v1/audit/", audit_views.AuditListView.as_view(), name="audit-list"),
    path(
        "v1/apis/<slug:slug>/promote",
        change_request_views.PromoteView.as_view(),
        name="api-promote",
    ),
    path(
        "v1/change-requests/",
        change_request_views.ChangeRequestListView.as_view(),
        name="change-request-list",
    ),
    path(
        "v1/change-requests/<int:pk>/",
        change_request_views.ChangeRequestDetailView.as_view(),
        name="change-request-detail",
    ),
    *(
        path(
            f"v1/change-requests/<int:pk>/{step}",
            view.as_view(),
            name=f"change-request-{step}",
        )
        for step, view in (
            ("approve", change_request_views.ApproveView),
            ("reject", change_request_views.RejectView),
            ("withdraw", change_request_views.WithdrawView),
            ("apply", change_request_views.ApplyView),
            ("discuss", change_request_views.DiscussView),
            ("schedule", change_request_views.ScheduleView),
        )
    ),
    # Anything else under /api/ is a JSON 404 too, never the dashboard's HTML page.
    re_path(r"^", views.no_such_endpoint),
]
