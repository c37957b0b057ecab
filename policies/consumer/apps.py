"""``"policies.consumer"`` in a consumer service's ``INSTALLED_APPS``: the system checks."""

from __future__ import annotations

from django.apps import AppConfig


class ConsumerConfig(AppConfig):
    name = "policies.consumer"
    label = "corsadmin_consumer"
    verbose_name = "corsadmin consumer"

    def ready(self) -> None:
        from django.core import checks

        from policies.consumer.checks import check_settings

        checks.register(check_settings, checks.Tags.security)
