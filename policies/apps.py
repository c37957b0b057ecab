from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "CORS policies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from policies import auth_events, checks  # noqa: F401  (registers checks and receivers)
