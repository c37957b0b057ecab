from django.urls import path

from policies.api import policy_views

urlpatterns = [
    path("v1/policies", policy_views.PolicyListView.as_view(), name="policy-list"),
    path(
        "v1/policies/<slug:slug>", policy_views.PolicyDocumentView.as_view(), name="policy-detail"
    ),
]
