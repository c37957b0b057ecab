"""Bench-only settings: production settings plus the trivial baseline view's URL.

Used by bench/endpoint.py only (never by the product): ``DJANGO_SETTINGS_MODULE=
bench.endpoint_settings`` with the repository on ``PYTHONPATH``.
"""

from corsadmin.settings import *  # noqa: F403

ROOT_URLCONF = "bench.endpoint_urls"
