"""Django settings for corsadmin, read only from the environment (see README.md)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from corsadmin import env, logs

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.text("CORSADMIN_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env.flag("DEBUG", default=False)
SECRET_KEY = env.text("SECRET_KEY")
# Or from a file: SECRET_KEY_FILE (a mounted secret), else the per-machine key `./run` made,
# so `python manage.py ...` works after `./run` without exporting anything.
_key_file = Path(env.text("SECRET_KEY_FILE", str(VAR_DIR / "secret_key")))
# The per-machine set-up of `./run`: no key given, the one it made in var/ is used. There,
# `python manage.py ...` gets the loopback host names `./run` serves, so commands run after it
# say nothing about an empty ALLOWED_HOSTS.
_local_machine = not SECRET_KEY and not env.text("SECRET_KEY_FILE") and _key_file.is_file()
if not SECRET_KEY and _key_file.is_file():
    SECRET_KEY = _key_file.read_text().strip()
if not SECRET_KEY:
    if not DEBUG and not env.flag("CORSADMIN_INSECURE_DEV_KEY"):
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off (set SECRET_KEY, or DEBUG=true for "
            "local development)"
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env.words("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG or _local_machine else "")
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
    "csp",
    "policies",
    "webhooks",
]

MIDDLEWARE = [
    # /healthz, /readyz, /metrics: before host checks and https redirects (policies/health.py).
    "policies.health.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The request id and the request's log line: policy polls too (policies/request_context.py).
    "policies.request_context.RequestContextMiddleware",
    # The policy endpoint and the keys, answered before the session/CSRF/lockout layers.
    "policies.api.policy_views.PolicyEndpointMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
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
                "webhooks.context.notices",
                "policies.dashboard.context.change_request_counts",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env.text("DATABASE_URL", f"sqlite:///{VAR_DIR / 'corsadmin.sqlite3'}"),
        conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 60),
        # A kept connection is checked before each request reuses it: after a database
        # restart the first request of every worker would otherwise fail with a 500.
        conn_health_checks=env.flag("DATABASE_CONN_HEALTH_CHECKS", default=True),
    )
}
# The password from a mounted secret rather than inside DATABASE_URL (docker-compose.yml).
_db_password = env.secret_file("DATABASE_PASSWORD_FILE")
if _db_password:
    DATABASES["default"]["PASSWORD"] = _db_password
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

# HSTS preload is a decision for the owner of the parent domain (and has no effect on a
# sub-domain such as cors.example.com): SECURE_HSTS_PRELOAD stays available, not nagged for.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

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
    # JSON bodies nested deeper than a few dozen levels are a 400 (policies/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "policies.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
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
    # Swagger UI's assets are vendored (drf-spectacular-sidecar): no CDN at run time. (ReDoc
    # is not served: its page loads web fonts from a CDN and needs inline styles.)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Celery: eager (in-process) unless a broker is configured.
CELERY_BROKER_URL = env.text("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = env.flag("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = "UTC"
# Beat saves its schedule file after every task it sends: docker-compose.yml's healthcheck
# reads the file's age (a task goes out every minute).
CELERY_BEAT_SYNC_EVERY = 1

# The product's own knobs.
# Prefix of every Redis key and of the change channel; consumers use the same value.
CORSADMIN_REDIS_PREFIX = env.text("CORSADMIN_REDIS_PREFIX", "corsadmin")
CORSADMIN_CONSUMER_POLL_SECONDS = env.integer("CORSADMIN_CONSUMER_POLL_SECONDS", 30)
# Ed25519 keys that sign every policy document (PEM, oldest first, the last one signs; see
# policies/signing.py). `./run` creates one; production mounts one (docker-compose.yml).
CORSADMIN_SIGNING_KEY_FILE = env.text(
    "CORSADMIN_SIGNING_KEY_FILE", str(VAR_DIR / "signing_key.pem")
)
# How old a process's knowledge of the database's policy versions and token revocations may
# be before the policy endpoint asks the database again (seconds): the bound on serving a
# replayed old document from Redis, and on a revoked token still being accepted.
CORSADMIN_DB_CHECK_SECONDS = float(env.text("CORSADMIN_DB_CHECK_SECONDS", "0.5"))
# Per-token rate limit of the policy endpoint ("<n>/<second|minute|hour|day>").
CORSADMIN_POLICY_RATE = env.text("CORSADMIN_POLICY_RATE", "600/minute")
# What consumer telemetry may store per API: distinct refused (origin, reason) counters per
# hour, and consumer instances; past these, new ones are refused (counts of known ones add).
CORSADMIN_TELEMETRY_MAX_ORIGINS = env.integer("CORSADMIN_TELEMETRY_MAX_ORIGINS", 1000)
CORSADMIN_TELEMETRY_MAX_INSTANCES = env.integer("CORSADMIN_TELEMETRY_MAX_INSTANCES", 1000)
# Origin rules one API may hold: a policy is read by every consumer on every poll, and the
# API's page lists them (paginated); a list this long is almost always a mistake.
CORSADMIN_MAX_ORIGINS_PER_API = env.integer("CORSADMIN_MAX_ORIGINS_PER_API", 1000)
# Approvals a widening change needs, per environment ("production=1,staging=0"); environments
# not named apply at once. Read through `policies.change_requests.approvals_config`.
CORSADMIN_APPROVALS = env.text("CORSADMIN_APPROVALS", "production=1")

# Webhooks (webhooks/conf.py documents each; README "Webhooks").
CORSADMIN_WEBHOOKS_ALLOW_PRIVATE = env.flag("CORSADMIN_WEBHOOKS_ALLOW_PRIVATE", default=False)
CORSADMIN_WEBHOOKS_TIMEOUT_SECONDS = env.integer("CORSADMIN_WEBHOOKS_TIMEOUT_SECONDS", 5)
CORSADMIN_WEBHOOKS_MAX_RESPONSE_BYTES = env.integer("CORSADMIN_WEBHOOKS_MAX_RESPONSE_BYTES", 65536)
CORSADMIN_WEBHOOKS_RETRY_BASE_SECONDS = float(
    env.text("CORSADMIN_WEBHOOKS_RETRY_BASE_SECONDS", "10")
)
CORSADMIN_WEBHOOKS_RETRY_FOR_SECONDS = env.integer("CORSADMIN_WEBHOOKS_RETRY_FOR_SECONDS", 86400)
CORSADMIN_WEBHOOKS_DISABLE_AFTER = env.integer("CORSADMIN_WEBHOOKS_DISABLE_AFTER", 50)
CORSADMIN_WEBHOOKS_STALE_AFTER_SECONDS = env.integer("CORSADMIN_WEBHOOKS_STALE_AFTER_SECONDS", 900)
CORSADMIN_WEBHOOKS_SPIKE_THRESHOLD = env.integer("CORSADMIN_WEBHOOKS_SPIKE_THRESHOLD", 100)
CORSADMIN_WEBHOOKS_SPIKE_WINDOW_SECONDS = env.integer(
    "CORSADMIN_WEBHOOKS_SPIKE_WINDOW_SECONDS", 3600
)

# Structured logs (corsadmin/logs.py): JSON lines with the request id, secrets redacted.
LOG_FORMAT = env.text("LOG_FORMAT", "json")
if LOG_FORMAT not in ("json", "console"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use json or console")
LOGGING = logs.logging_config(level=env.text("LOG_LEVEL", "INFO"), fmt=LOG_FORMAT)
logs.configure_structlog()

# Content-Security-Policy (django-csp) on every response: nothing inline, nothing from
# elsewhere. Scripts and styles are files under static/ (templates carry no <script> body,
# no on*= handler, no style=); htmx is configured not to inject its indicator styles.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# Metrics (policies/metrics.py): /metrics answers a bearer token or an address list only.
CORSADMIN_METRICS_TOKEN = env.text("CORSADMIN_METRICS_TOKEN") or env.secret_file(
    "CORSADMIN_METRICS_TOKEN_FILE"
)
CORSADMIN_METRICS_ALLOW = env.words("CORSADMIN_METRICS_ALLOW")

# Serve static files from the app directories without collectstatic (small, vendored assets).
WHITENOISE_USE_FINDERS = True

CELERY_BEAT_SCHEDULE = {
    "expire-origins": {"task": "policies.expire_origins", "schedule": 60.0},
    "republish-all": {"task": "policies.republish_all", "schedule": 300.0},
    # The outbox sweep: deliveries that failed on commit (Redis down) are retried here.
    "deliver-outbox": {"task": "policies.deliver_outbox", "schedule": 2.0},
    "prune-telemetry": {"task": "policies.prune_telemetry", "schedule": 24 * 3600.0},
    "webhooks-retry-due": {"task": "webhooks.retry_due", "schedule": 30.0},
    "webhooks-stale-consumers": {"task": "webhooks.check_stale_consumers", "schedule": 60.0},
    "webhooks-refused-spikes": {"task": "webhooks.check_refused_spikes", "schedule": 60.0},
    "webhooks-verify-audit": {"task": "webhooks.verify_audit", "schedule": 3600.0},
    "webhooks-prune": {"task": "webhooks.prune_deliveries", "schedule": 24 * 3600.0},
    "apply-scheduled-changes": {"task": "policies.apply_scheduled_changes", "schedule": 60.0},
}
