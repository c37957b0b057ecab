from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "CORS policies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks and the signal receivers (audit and metrics).
        from policies import auth_events, checks, metrics  # noqa: F401
