"""Every consumer setting, its default and its parsing, once.

The same names everywhere (design.md, "Consumer configuration"): a keyword ``interval`` of
the WSGI or ASGI middleware is ``CORSADMIN_INTERVAL`` in Django settings and in the
environment. ``Settings`` is built from one of three sources and then validated the same way:

- ``Settings.from_keywords(url=..., token=..., apis=...)`` (the WSGI and ASGI middlewares);
- ``Settings.from_env()`` (``os.environ``, strings: ``CORSADMIN_APIS=a,b``,
  ``CORSADMIN_VERIFY_SIGNATURES=false``);
- ``Settings.from_lookup(getattr-like)`` (Django settings; see ``policies.consumer.django``).

No Django import here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypedDict

__all__ = [
    "DEFAULT_REDIS_PREFIX",
    "SETTINGS",
    "ClientOptions",
    "ConfigurationError",
    "Settings",
    "setting_name",
]

DEFAULT_REDIS_PREFIX: Final = "corsadmin"
DEFAULT_MAX_DOCUMENT_BYTES: Final = 4 * 1024 * 1024
"""4 MiB: a document with 100,000 exact origins is about 3.5 MB."""


class ConfigurationError(ValueError):
    """A configuration that cannot work. ``setting`` is the keyword (``token``); the message
    names it as the source spells it (``CORSADMIN_TOKEN`` in Django settings)."""

    def __init__(self, setting: str, message: str, *, naming: str = "keyword") -> None:
        self.setting = setting
        self.detail = message
        name = setting_name(setting) if naming == "setting" else setting
        super().__init__(f"{name}: {message}")


def setting_name(keyword: str) -> str:
    """``interval`` -> ``CORSADMIN_INTERVAL`` (the Django setting and environment variable)."""
    return "CORSADMIN_" + keyword.upper()


class ClientOptions(TypedDict, total=False):
    """The keywords every middleware takes (one per row of ``SETTINGS``)."""

    url: str | None
    token: str | None
    apis: Sequence[str] | str
    redis_url: str | None
    redis_prefix: str
    interval: float
    bootstrap_file: str | os.PathLike[str] | None
    cache_file: str | os.PathLike[str] | None
    public_keys: str | Mapping[str, Any] | None
    verify_signatures: bool
    fetch_public_keys: bool
    timeout: float
    fetch_deadline: float
    max_document_bytes: int
    startup_wait: float
    service: str | None
    telemetry: bool
    telemetry_interval: float
    health_path: str | None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _path(value: Any) -> Path | None:
    text = _text(os.fspath(value)) if isinstance(value, os.PathLike) else _text(value)
    return Path(text) if text else None


def _apis(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(dict.fromkeys(str(slug).strip() for slug in value if str(slug).strip()))


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean (true or false)")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def _keys(value: Any) -> str | Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    return _text(value)


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the configuration table: keyword, default, parser, what it means."""

    keyword: str
    default: Any
    parse: Callable[[Any], Any]
    meaning: str


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("url", None, _text, "central's base URL"),
    Setting("token", None, _text, "the service token (cors_...)"),
    Setting("apis", (), _apis, "API slugs, the first whose paths match applies"),
    Setting("redis_url", None, _text, "shared copy between processes + change notifications"),
    Setting("redis_prefix", DEFAULT_REDIS_PREFIX, _text, "central's CORSADMIN_REDIS_PREFIX"),
    Setting("interval", 30.0, _number, "poll interval, seconds"),
    Setting("bootstrap_file", None, _path, "signed documents to start from"),
    Setting("cache_file", None, _path, "where the last good documents are kept"),
    Setting("public_keys", None, _keys, "JWKS (file path or inline JSON) documents verify with"),
    Setting("verify_signatures", True, _bool, "false accepts unsigned documents (tests only)"),
    Setting("fetch_public_keys", False, _bool, "trust on first use: GET /api/v1/keys"),
    Setting("timeout", 2.0, _number, "connect and per-read timeout of a call, seconds"),
    Setting("fetch_deadline", 10.0, _number, "total time one fetch may take, seconds"),
    Setting("max_document_bytes", DEFAULT_MAX_DOCUMENT_BYTES, _integer, "largest document"),
    Setting("startup_wait", 0.0, _number, "seconds the first request may wait for central"),
    Setting("service", None, _text, "a name for this service in telemetry"),
    Setting("telemetry", True, _bool, "send heartbeats and refusal counts to central"),
    Setting("telemetry_interval", 60.0, _number, "seconds between telemetry reports"),
    Setting("health_path", None, _text, "serve health() as JSON at this path"),
)
_BY_KEYWORD: Final = {setting.keyword: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """A validated consumer configuration (see ``SETTINGS`` for each field's meaning)."""

    url: str | None = None
    token: str | None = None
    apis: tuple[str, ...] = ()
    redis_url: str | None = None
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    interval: float = 30.0
    bootstrap_file: Path | None = None
    cache_file: Path | None = None
    public_keys: str | Mapping[str, Any] | None = None
    verify_signatures: bool = True
    fetch_public_keys: bool = False
    timeout: float = 2.0
    fetch_deadline: float = 10.0
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    startup_wait: float = 0.0
    service: str | None = None
    telemetry: bool = True
    telemetry_interval: float = 60.0
    health_path: str | None = None

    # --- building -------------------------------------------------------------------------

    @classmethod
    def from_keywords(cls, **values: Any) -> Settings:
        """From middleware keywords; raises ``ConfigurationError`` naming the keyword."""
        return cls._build(values.get, set(values), naming="keyword")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """From ``CORSADMIN_*`` environment variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        names = {s.keyword for s in SETTINGS if setting_name(s.keyword) in env}
        return cls._build(lambda key: env.get(setting_name(key)), names, naming="setting")

    @classmethod
    def from_lookup(cls, lookup: Callable[[str, Any], Any]) -> Settings:
        """From a ``getattr(settings, name, default)``-like lookup of ``CORSADMIN_*`` names
        (Django settings); raises ``ConfigurationError`` naming the setting."""
        missing = object()
        found = {s.keyword: lookup(setting_name(s.keyword), missing) for s in SETTINGS}
        given = {key for key, value in found.items() if value is not missing}
        return cls._build(found.get, given, naming="setting")

    @classmethod
    def _build(cls, get: Callable[[str], Any], given: set[str], *, naming: str) -> Settings:
        settings, problems = cls._parse(get, given)
        if problems:
            keyword, message = problems[0]
            raise ConfigurationError(keyword, message, naming=naming)
        return settings

    @classmethod
    def _parse(
        cls, get: Callable[[str], Any], given: set[str]
    ) -> tuple[Settings, list[tuple[str, str]]]:
        """Parse what is given (unset or blank: the default); every problem found."""
        problems = [(name, "unknown setting") for name in sorted(given - set(_BY_KEYWORD))]
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if setting.keyword not in given:
                continue
            raw = get(setting.keyword)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue  # unset: the default
            try:
                parsed = setting.parse(raw)
            except (TypeError, ValueError) as exc:
                problems.append((setting.keyword, str(exc)))
                continue
            if parsed is not None:
                values[setting.keyword] = parsed
        settings = cls(**values)
        return settings, problems + settings.problems()

    @classmethod
    def problems_of_lookup(cls, lookup: Callable[[str, Any], Any]) -> list[tuple[str, str]]:
        """Every problem of a Django-like configuration, as (keyword, message); for the
        system checks, which report them all at once."""
        missing = object()
        found = {s.keyword: lookup(setting_name(s.keyword), missing) for s in SETTINGS}
        given = {key for key, value in found.items() if value is not missing}
        return cls._parse(found.get, given)[1]

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    # --- validating -----------------------------------------------------------------------

    def problems(self) -> list[tuple[str, str]]:
        """Every reason this configuration cannot work, as (keyword, message); [] when fine.
        The Django system checks report each one."""
        found: list[tuple[str, str]] = []
        if not self.apis:
            found.append(("apis", "at least one API slug is required"))
        if self.url is None and self.bootstrap_file is None:
            found.append(("url", "central's URL is required unless a bootstrap file is given"))
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            found.append(("url", f"{self.url!r} is not an http:// or https:// URL"))
        if self.url is not None and self.token is None:
            found.append(("token", "a service token is required with a URL"))
        if self.verify_signatures and self.public_keys is None and not self.fetch_public_keys:
            found.append(
                (
                    "public_keys",
                    "a JWKS (file path or inline JSON) is required while signatures are "
                    "verified (or opt in to fetching central's keys, or turn verification "
                    "off for development)",
                )
            )
        if self.fetch_public_keys and self.url is None:
            found.append(("fetch_public_keys", "needs a URL to fetch the keys from"))
        for keyword in ("interval", "timeout", "fetch_deadline", "telemetry_interval"):
            if getattr(self, keyword) <= 0:
                found.append((keyword, "must be a positive number of seconds"))
        if self.startup_wait < 0:
            found.append(("startup_wait", "must not be negative"))
        if self.max_document_bytes < 1024:
            found.append(("max_document_bytes", "must be at least 1024"))
        if self.health_path is not None and not self.health_path.startswith("/"):
            found.append(("health_path", "must start with /"))
        return found
