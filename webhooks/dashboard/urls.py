from django.urls import path

from webhooks.dashboard import views

app_name = "webhooks"

urlpatterns = [
    path("", views.subscription_list, name="list"),
    path("<int:pk>/", views.subscription_detail, name="detail"),
    path("<int:pk>/rotate/", views.rotate_secret, name="rotate"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path(
        "<int:pk>/deliveries/<int:delivery_id>/redeliver/",
        views.redeliver,
        name="redeliver",
    ),
]
