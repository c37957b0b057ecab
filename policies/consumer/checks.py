"""Django system checks for a consumer service's ``CORSADMIN_*`` settings.

They run when the service uses the middleware (``policies.consumer.django.CorsMiddleware``
in ``MIDDLEWARE``) or installs the app (``"policies.consumer"`` in ``INSTALLED_APPS``), as
django-cors-headers' checks do, and name each setting as it is spelt in settings.py.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from policies.consumer.config import Settings, setting_name
from policies.consumer.signatures import KeyError_, load_keys

__all__ = ["check_settings"]

MIDDLEWARE_PATH = "policies.consumer.django.CorsMiddleware"
CORSHEADERS_PATH = "corsheaders.middleware.CorsMiddleware"
COMMON_PATH = "django.middleware.common.CommonMiddleware"


def _in_use() -> bool:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    return MIDDLEWARE_PATH in middleware or apps.is_installed("policies.consumer")


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``corsadmin_consumer.E001`` per unusable setting, ``E002`` unreadable public keys,
    ``W001`` django-cors-headers' middleware still listed, ``W002`` the middleware placed
    after ``CommonMiddleware`` (its redirects then get no CORS headers), ``W003``
    signature verification off."""
    if not _in_use():
        return []

    def lookup(name: str, default: Any) -> Any:
        return getattr(settings, name, default)

    found: list[CheckMessage] = [
        Error(
            f"{setting_name(keyword)}: {message}",
            hint=f"Set {setting_name(keyword)} in your settings (see the consumer settings "
            "table in corsadmin's README).",
            id="corsadmin_consumer.E001",
        )
        for keyword, message in Settings.problems_of_lookup(lookup)
    ]
    keys = getattr(settings, "CORSADMIN_PUBLIC_KEYS", None)
    if keys:
        try:
            load_keys(keys if not hasattr(keys, "__fspath__") else str(keys))
        except KeyError_ as exc:
            found.append(Error(f"CORSADMIN_PUBLIC_KEYS: {exc}", id="corsadmin_consumer.E002"))
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH in middleware and CORSHEADERS_PATH in middleware:
        found.append(
            Warning(
                f"{CORSHEADERS_PATH} and {MIDDLEWARE_PATH} are both in MIDDLEWARE",
                hint="Remove corsheaders' middleware: corsadmin's runs it itself, in "
                "report-only mode, and replaces its headers in enforce mode.",
                id="corsadmin_consumer.W001",
            )
        )
    if (
        MIDDLEWARE_PATH in middleware
        and COMMON_PATH in middleware
        and middleware.index(MIDDLEWARE_PATH) > middleware.index(COMMON_PATH)
    ):
        found.append(
            Warning(
                f"{MIDDLEWARE_PATH} comes after {COMMON_PATH}",
                hint="Place it before CommonMiddleware, as high as possible, so redirects "
                "and other early responses carry CORS headers.",
                id="corsadmin_consumer.W002",
            )
        )
    verify = getattr(settings, "CORSADMIN_VERIFY_SIGNATURES", True)
    if verify is False or str(verify).strip().lower() in ("0", "false", "no", "off"):
        found.append(
            Warning(
                "CORSADMIN_VERIFY_SIGNATURES is off: unsigned policy documents are applied",
                hint="Development only: set CORSADMIN_PUBLIC_KEYS to central's JWKS.",
                id="corsadmin_consumer.W003",
            )
        )
    return found
