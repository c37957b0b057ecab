"""Django settings for corsadmin, read only from the environment (see README.md)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from corsadmin import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.text("CORSADMIN_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env.flag("DEBUG", default=False)
SECRET_KEY = env.text("SECRET_KEY")
# Or from a file: SECRET_KEY_FILE (a mounted secret), else the per-machine key `./run` made,
# so `python manage.py ...` works after `./run` without exporting anything.
_key_file = Path(env.text("SECRET_KEY_FILE", str(VAR_DIR / "secret_key")))
if not SECRET_KEY and _key_file.is_file():
    SECRET_KEY = _key_file.read_text().strip()
if not SECRET_KEY:
    if not DEBUG and not env.flag("CORSADMIN_INSECURE_DEV_KEY"):
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off (set SECRET_KEY, or DEBUG=true for "
            "local development)"
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env.words("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env.words("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "policies",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "policies.request_context.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "policies.dashboard.errors.ServiceOutcomeMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "corsadmin.urls"
WSGI_APPLICATION = "corsadmin.wsgi.application"
ASGI_APPLICATION = "corsadmin.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "policies.dashboard.context.change_request_counts",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env.text("DATABASE_URL", f"sqlite:///{VAR_DIR / 'corsadmin.sqlite3'}"),
        conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database serves several worker processes and threads (web requests,
    # consumer reports, the expiry loop). Writers take the lock when their transaction
    # begins (IMMEDIATE) and wait for it, instead of failing with "database is locked" when
    # a read-then-write transaction cannot upgrade; WAL lets readers run beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.text("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "corsadmin.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "corsadmin",
            # Fail fast: a request must not hang on a Redis that is gone.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Security: safe unless asked otherwise.
SESSION_COOKIE_AGE = env.integer("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
_secure_default = not DEBUG
SESSION_COOKIE_SECURE = env.flag("SESSION_COOKIE_SECURE", _secure_default)
CSRF_COOKIE_SECURE = env.flag("CSRF_COOKIE_SECURE", _secure_default)
SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.flag("SECURE_HSTS_PRELOAD", default=False)
if env.flag("TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# django-axes: slow and lock out repeated login failures.
AXES_FAILURE_LIMIT = env.integer("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env.integer("AXES_COOLOFF_MINUTES", 15) / 60
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "policies.api.authentication.AccessTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_RATES": {"policy": env.text("CORSADMIN_POLICY_RATE", "600/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "corsadmin API",
    "DESCRIPTION": "Central management of CORS policy for many HTTP APIs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies as their own components (no read-only fields), closed to unknown keys.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "policies.api.schema.postprocess",
    ],
    # The docs pages' assets are vendored (drf-spectacular-sidecar): no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: eager (in-process) unless a broker is configured.
CELERY_BROKER_URL = env.text("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = env.flag("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = "UTC"

# The product's own knobs.
# Prefix of every Redis key and of the change channel; consumers use the same value.
CORSADMIN_REDIS_PREFIX = env.text("CORSADMIN_REDIS_PREFIX", "corsadmin")
CORSADMIN_CONSUMER_POLL_SECONDS = env.integer("CORSADMIN_CONSUMER_POLL_SECONDS", 30)
# Approvals a widening change needs, per environment ("production=1,staging=0"); environments
# not named apply at once. Read through `policies.change_requests.approvals_config`.
CORSADMIN_APPROVALS = env.text("CORSADMIN_APPROVALS", "production=1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.text("LOG_LEVEL", "INFO")},
    # axes announces itself at every start and logs each attempt: keep its warnings only.
    "loggers": {"axes": {"level": "WARNING"}},
}

# Serve static files from the app directories without collectstatic (small, vendored assets).
WHITENOISE_USE_FINDERS = True

CELERY_BEAT_SCHEDULE = {
    "expire-origins": {"task": "policies.expire_origins", "schedule": 60.0},
    "republish-all": {"task": "policies.republish_all", "schedule": 300.0},
    "prune-telemetry": {"task": "policies.prune_telemetry", "schedule": 24 * 3600.0},
    "apply-scheduled-changes": {"task": "policies.apply_scheduled_changes", "schedule": 60.0},
}
