"""The webhooks' settings, read here and nowhere else (environment variables in
corsadmin/settings.py; tests override them with pytest-django's `settings`)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def allow_private() -> bool:
    """Deliver to loopback, private, link-local and reserved addresses (tests, labs only)."""
    return bool(settings.CORSADMIN_WEBHOOKS_ALLOW_PRIVATE)


def timeout() -> float:
    """Seconds for connecting, and for each read, of one attempt."""
    return float(settings.CORSADMIN_WEBHOOKS_TIMEOUT_SECONDS)


def max_response_bytes() -> int:
    """How much of a receiver's answer is read (the rest is dropped, the attempt stands)."""
    return int(settings.CORSADMIN_WEBHOOKS_MAX_RESPONSE_BYTES)


def retry_base() -> float:
    """Seconds before the first retry; each further retry waits twice as long."""
    return float(settings.CORSADMIN_WEBHOOKS_RETRY_BASE_SECONDS)


def retry_for() -> timedelta:
    """How long a delivery is retried before it is given up (a day by default)."""
    return timedelta(seconds=int(settings.CORSADMIN_WEBHOOKS_RETRY_FOR_SECONDS))


def disable_after() -> int:
    """Failed attempts in a row after which a subscription is disabled."""
    return int(settings.CORSADMIN_WEBHOOKS_DISABLE_AFTER)


def stale_after() -> timedelta:
    """How long a consumer must have been stale before `consumer.stale` is sent."""
    return timedelta(seconds=int(settings.CORSADMIN_WEBHOOKS_STALE_AFTER_SECONDS))


def spike_threshold() -> int:
    """Refusals of a new origin within the window above which `origin.refused_spike` fires."""
    return int(settings.CORSADMIN_WEBHOOKS_SPIKE_THRESHOLD)


def spike_window() -> timedelta:
    return timedelta(seconds=int(settings.CORSADMIN_WEBHOOKS_SPIKE_WINDOW_SECONDS))
