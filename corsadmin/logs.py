"""Structured logs: one JSON object per line, with the request id, and never a secret.

Every log record (Django's, Celery's, gunicorn's, ours) goes through structlog's
`ProcessorFormatter`, so application code keeps using `logging.getLogger(__name__)`. Each
line carries `timestamp` (ISO 8601, UTC), `level`, `logger`, `event`, and `request_id` when
written while a request is being served (`policies.request_context`).

Secrets: tokens look like `cors_...` (service) and `corsp_...` (personal), and anything after
`Bearer ` is a credential; `redact_secrets` replaces them in every string of every line, and
request lines carry the path without its query string. Tests prove a token sent in a header,
a query string or a path never reaches the log (tests/e2e/test_operability.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

# The token formats of policies/secrets.py (prefix + urlsafe base64) and any bearer value.
_SECRET = re.compile(r"(?P<keep>\bcorsp?_)[A-Za-z0-9_\-]{4,}|(?P<bearer>\b[Bb]earer\s+)[^\s\"',;]+")
REDACTED = "[redacted]"


def _scrub(text: str) -> str:
    return _SECRET.sub(lambda m: (m.group("keep") or m.group("bearer")) + REDACTED, text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, dict):
        return {key: _scrub_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(item) for item in value]
    return value


_PLAIN = (str, int, float, bool, type(None), dict, list, tuple)


def redact_secrets(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: tokens and bearer credentials in any string become `[redacted]`.

    Objects passed as `extra` are dropped when they are requests (Django logs its request
    object, whose text holds the query string) and otherwise turned into text, then scrubbed.
    """
    for key, value in list(event_dict.items()):
        if key == "request" and not isinstance(value, str):
            del event_dict[key]
            continue
        if not isinstance(value, _PLAIN):
            value = str(value)
        event_dict[key] = _scrub_value(value)
    return event_dict


def add_request_id(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the current request's id, when there is one."""
    from policies.request_context import current

    context = current()
    if context is not None and "request_id" not in event_dict:
        event_dict["request_id"] = context.request_id
    return event_dict


# Applied to records from the standard library (everything but structlog's own loggers).
_PRE_CHAIN: list[Any] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    add_request_id,
]


def formatter(fmt: str) -> dict[str, Any]:
    """The `logging` formatter config: `json` (one object a line) or `console` (for people)."""
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": _PRE_CHAIN,
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    }


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    """Django's `LOGGING`: every record to stderr through the structured formatter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": formatter(fmt)},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # axes announces itself at every start and logs each attempt: its warnings only.
            "axes": {"level": "WARNING"},
            # Django's own request lines ("Not Found: /x") repeat ours (policies.access).
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
        },
    }


def configure_structlog() -> None:
    """structlog's own loggers (`structlog.get_logger()`) go through the same formatter.

    Python's warnings go to the log too (logger `py.warnings`), so stderr is all JSON lines.
    """
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            *_PRE_CHAIN,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
