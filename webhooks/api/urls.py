from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("", views.SubscriptionListView.as_view(), name="webhook-list"),
    path("<int:pk>/", views.SubscriptionDetailView.as_view(), name="webhook-detail"),
    path("<int:pk>/rotate-secret", views.RotateSecretView.as_view(), name="webhook-rotate"),
    path("<int:pk>/deliveries/", views.DeliveryListView.as_view(), name="webhook-deliveries"),
    path(
        "<int:pk>/deliveries/<int:delivery_id>/redeliver",
        views.RedeliverView.as_view(),
        name="webhook-redeliver",
    ),
]
