"""The consumer client: fetch an API's policy document from central, keep it, decide with it.

No Django here (a Flask or FastAPI service installs only this, ``policies.cors``, httpx and
redis). What a request costs: one attribute read of an immutable snapshot and the engine's
``decide``; it never waits on the network. A background thread (started lazily on first use,
and again in each forked worker) keeps the snapshot fresh:

- polls ``GET /api/v1/policies/<slug>`` with ``If-None-Match`` every ``interval`` seconds
  (+-10 % jitter), with short timeouts and exponential backoff with jitter on failure;
- with ``redis_url``, the processes of a service share one copy of each document in Redis
  (``<prefix>:consumer:<slug>``): one process fetches per interval, the others read the
  copy; and they subscribe to central's change channel (``<prefix>:policies``), so when
  they share central's Redis a change applies well under a second after it is saved;
- last known good: memory, then the shared Redis copy, then ``cache_file``; a document that
  is malformed, of an unknown schema or for another API is refused and the last good one
  kept. Nothing ever falls open: with no document at all (cold start, central down, no
  cache, no ``bootstrap_file``) cross-origin requests get no CORS headers, and the log says
  why;
- ``health()`` tells, per API, the version held, its age and whether it is stale; a stale
  document is also logged;
- telemetry (a heartbeat and counts of refused requests per api, origin and reason) is
  batched in bounded memory and sent in the background to ``POST /api/v1/reports``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypedDict

import httpx
import redis

from policies.cors import CompiledPolicy, Decision, DocumentError, compile_policy

__all__ = [
    "DEFAULT_REDIS_PREFIX",
    "ConfigurationError",
    "Held",
    "PolicyClient",
    "Snapshot",
    "config_from_env",
    "own_origin",
    "refusal_kind",
]

logger = logging.getLogger("policies.consumer")

DEFAULT_REDIS_PREFIX: Final = "corsadmin"
"""Redis names, under a prefix shared with central's ``CORSADMIN_REDIS_PREFIX``:
``<prefix>:policies``, the channel central publishes ``{"api", "version", "etag"}`` on after
every change; ``<prefix>:doc:<slug>``, central's copy of each document (a hash with ``body``,
``etag``, ``version``, ``api_id``); ``<prefix>:consumer:<slug>``, the consumers' own shared
copy, and ``...:lock``, their fetch lock."""
SHARED_COPY_TTL_SECONDS: Final = 7 * 24 * 3600

MAX_REFUSED_KEYS: Final = 500
"""Distinct (api, origin, reason) counters kept between two reports; more are dropped."""
MAX_ORIGIN_CHARS: Final = 300
MAX_SAMPLE_CHARS: Final = 300
_LOG_EVERY_SECONDS: Final = 60.0
_VARY_ORIGIN: Final = {"Vary": "Origin"}
_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}


class ConfigurationError(ValueError):
    """The client is configured in a way that cannot work (says which setting)."""


@dataclass(frozen=True, slots=True)
class Held:
    """One API's last good document, compiled, and where and when it was confirmed."""

    api: str
    policy: CompiledPolicy
    body: bytes
    etag: str | None
    confirmed_at: float
    """Wall-clock time central (directly or through Redis) last confirmed it; 0 = never."""
    source: str
    """central, redis (the shared copy), pubsub, cache-file or bootstrap."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What requests read: one entry per configured API (None: nothing held yet)."""

    held: tuple[Held | None, ...]
    policies: tuple[CompiledPolicy, ...]
    """The compiled documents held, in ``apis`` order."""


class _FetchError(Exception):
    pass


def own_origin(scheme: str, host: str | None) -> str | None:
    """The serialized origin of the service itself, from the request's scheme and Host."""
    if not host:
        return None
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        name = host[: end + 1]
        port = host[end + 2 :] if host[end + 1 : end + 2] == ":" else ""
    else:
        name, _, port = host.partition(":")
    if port and _DEFAULT_PORTS.get(scheme) != port:
        return f"{scheme}://{name}:{port}"
    return f"{scheme}://{name}"


def config_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The middleware keywords from ``CORSADMIN_URL``, ``CORSADMIN_TOKEN``, ``CORSADMIN_APIS``
    (comma-separated), ``CORSADMIN_REDIS_URL``, ``CORSADMIN_REDIS_PREFIX``, ``CORSADMIN_INTERVAL``,
    ``CORSADMIN_BOOTSTRAP_FILE``, ``CORSADMIN_CACHE_FILE``, ``CORSADMIN_TIMEOUT``,
    ``CORSADMIN_SERVICE`` and ``CORSADMIN_TELEMETRY_INTERVAL``:
    ``CorsMiddleware(app, **config_from_env())``."""
    env = os.environ if environ is None else environ
    return {
        "url": env.get("CORSADMIN_URL") or None,
        "token": env.get("CORSADMIN_TOKEN") or None,
        "apis": env.get("CORSADMIN_APIS", ""),
        "redis_url": env.get("CORSADMIN_REDIS_URL") or None,
        "redis_prefix": env.get("CORSADMIN_REDIS_PREFIX") or DEFAULT_REDIS_PREFIX,
        "interval": float(env.get("CORSADMIN_INTERVAL") or 30),
        "bootstrap_file": env.get("CORSADMIN_BOOTSTRAP_FILE") or None,
        "cache_file": env.get("CORSADMIN_CACHE_FILE") or None,
        "timeout": float(env.get("CORSADMIN_TIMEOUT") or 2.0),
        "service": env.get("CORSADMIN_SERVICE") or None,
        "telemetry_interval": float(env.get("CORSADMIN_TELEMETRY_INTERVAL") or 60),
    }


class ClientOptions(TypedDict, total=False):
    """The keywords every middleware takes (design.md, "Consumer configuration")."""

    url: str | None
    token: str | None
    apis: Sequence[str] | str
    redis_url: str | None
    redis_prefix: str
    interval: float
    bootstrap_file: str | os.PathLike[str] | None
    cache_file: str | os.PathLike[str] | None
    timeout: float
    service: str | None
    telemetry_interval: float


def client_for(client: PolicyClient | None, options: ClientOptions) -> PolicyClient:
    """The middleware's client: the one given, or one built from the keywords."""
    if client is not None:
        if options:
            raise ConfigurationError("pass either client= or its options, not both")
        return client
    rest: dict[str, Any] = {k: v for k, v in options.items() if k not in ("url", "token", "apis")}
    return PolicyClient(options.get("url"), options.get("token"), options.get("apis", ()), **rest)


def refusal_kind(decision: Decision, policy: CompiledPolicy | None) -> str:
    """A short, stable reason for counting a refusal (the engine's words change per version)."""
    if policy is None:
        return "no-policy"
    origin = decision.origin or ""
    if not policy.allows_origin(origin):
        return "origin-not-allowed"
    if decision.preflight:
        reason = decision.reason
        if "private network" in reason:
            return "private-network-not-allowed"
        if "request header" in reason:
            return "header-not-allowed"
        if "method" in reason:
            return "method-not-allowed"
        return "preflight-refused"
    return "refused"


def _now() -> float:
    return time.time()


def _as_list(apis: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(apis, str):
        apis = apis.split(",")
    return tuple(dict.fromkeys(slug.strip() for slug in apis if slug.strip()))


def _log_every(seen: dict[str, float], key: str, seconds: float = _LOG_EVERY_SECONDS) -> bool:
    """True at most once per ``seconds`` for ``key`` (rate-limited log lines)."""
    now = time.monotonic()
    last = seen.get(key)
    if last is not None and now - last < seconds:
        return False
    seen[key] = now
    return True


class PolicyClient:
    """Keeps the policy documents of ``apis`` fresh in the background; decides per request.

    ``url`` (central's base URL) and ``token`` (a ``cors_...`` service token) are required
    unless ``bootstrap_file`` is given; ``apis`` are API slugs, the first whose ``paths``
    matches a request applies. See the module docstring for the behaviour.
    """

    def __init__(
        self,
        url: str | None,
        token: str | None,
        apis: Sequence[str] | str,
        *,
        redis_url: str | None = None,
        redis_prefix: str = DEFAULT_REDIS_PREFIX,
        interval: float = 30.0,
        bootstrap_file: str | os.PathLike[str] | None = None,
        cache_file: str | os.PathLike[str] | None = None,
        timeout: float = 2.0,
        service: str | None = None,
        telemetry_interval: float = 60.0,
        telemetry: bool = True,
    ) -> None:
        self.url = (url or "").rstrip("/") or None
        self.token = token or None
        self.apis = _as_list(apis)
        if not self.apis:
            raise ConfigurationError("apis: at least one API slug is required")
        if self.url is None and bootstrap_file is None:
            raise ConfigurationError("url: central's URL is required unless a bootstrap file is")
        if self.url is not None and self.token is None:
            raise ConfigurationError("token: a service token is required with url")
        if interval <= 0:
            raise ConfigurationError("interval must be a positive number of seconds")
        self.redis_url = redis_url or None
        # Keys and the channel are namespaced like central's (CORSADMIN_REDIS_PREFIX there), so
        # several corsadmin installations can share one Redis server.
        self._channel = f"{redis_prefix}:policies"
        self._central_doc_prefix = f"{redis_prefix}:doc:"
        self._shared_prefix = f"{redis_prefix}:consumer:"
        self.interval = float(interval)
        self.timeout = float(timeout)
        self.bootstrap_file = Path(bootstrap_file) if bootstrap_file else None
        self.cache_file = Path(cache_file) if cache_file else None
        self.service = service
        self.telemetry_interval = float(telemetry_interval)
        self.telemetry_enabled = telemetry and self.url is not None
        self.stale_after = 3 * self.interval + self.timeout
        self._snapshot = Snapshot(held=(None,) * len(self.apis), policies=())
        self._errors: dict[str, str] = {}
        self._logged: dict[str, float] = {}
        self._refused: dict[tuple[str, str, str], list[Any]] = {}
        self._dropped = 0
        self._failures = 0
        self._pending: dict[str, str | None] = {}
        self._started_pid: int | None = None
        self._loaded = False
        self._init_process_state()
        ref = weakref.ref(self)

        def _after_fork() -> None:
            client = ref()
            if client is not None:
                client._init_process_state()

        os.register_at_fork(after_in_child=_after_fork)

    # --- per process --------------------------------------------------------------------

    def _init_process_state(self) -> None:
        """Fresh locks, events, connections and threads (at creation and in a forked child)."""
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._start_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._telemetry_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: httpx.Client | None = None
        self._redis: redis.Redis | None = None
        self._started_pid = None
        self._next_telemetry = time.monotonic() + min(self.telemetry_interval, 5.0)
        self._refused = {}
        self._dropped = 0

    def _http_client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 1.0)),
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "User-Agent": "corsadmin-consumer/1",
                    "Accept": "application/json",
                },
                follow_redirects=False,
            )
        return self._http

    def _redis_client(self) -> redis.Redis | None:
        if self.redis_url is None:
            return None
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self.redis_url,
                socket_connect_timeout=0.5,
                socket_timeout=0.5,
                health_check_interval=30,
            )
        return self._redis

    def ensure_started(self) -> None:
        """Load (blocking, bounded by ``timeout``) on first use and start the refresher."""
        pid = os.getpid()
        if self._started_pid == pid:
            return
        with self._start_lock:
            if self._started_pid == pid:
                return
            restart = self._loaded
            if not self._loaded:
                self._initial_load()
                self._loaded = True
            self._start_threads()
            if restart:
                # A forked worker: its inherited snapshot may be old; check without waiting.
                self._wake.set()
            self._started_pid = pid

    def _start_threads(self) -> None:
        self._stop.clear()
        targets = []
        if self.url is not None:
            targets.append(("refresher", self._run))
        if self.redis_url is not None:
            targets.append(("changes", self._listen))
        for name, target in targets:
            thread = threading.Thread(target=target, name=f"corsadmin-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop the background threads (tests; a process normally just exits)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 2)
        self._threads = []
        self._started_pid = None
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._redis is not None:
            self._redis.close()
            self._redis = None

    # --- the request path ---------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        self.ensure_started()
        return self._snapshot

    @property
    def policies(self) -> tuple[CompiledPolicy, ...]:
        return self.snapshot().policies

    def choose(self, path: str) -> tuple[CompiledPolicy | None, str | None]:
        """The policy for ``path``, or (None, slug) when an API without a document comes
        first (its paths are unknown: refuse), or (None, None) when no API covers it."""
        for slug, held in zip(self.apis, self.snapshot().held, strict=True):
            if held is None:
                return None, slug
            if held.policy.covers_path(path):
                return held.policy, None
        return None, None

    def decide(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        *,
        request_origin: str | None = None,
        scheme: str = "http",
        host: str | None = None,
    ) -> tuple[Decision, CompiledPolicy | None] | None:
        """The engine's decision for a request, and the policy it came from.

        None when no configured API covers the path (the middleware passes the request
        through untouched). With no document for an API that may cover it, a refusal.
        Refused cross-origin requests are counted for telemetry; the service's own origin
        (``request_origin``, else made from ``scheme`` and ``host`` only for a refusal, off
        the path of allowed requests) keeps same-origin requests, which carry ``Origin``
        too, out.
        """
        policy, missing = self.choose(path)
        if policy is not None:
            decision = policy.decide(method, path, headers)
        elif missing is not None:
            decision = self._cold_decision(method, headers, missing)
        else:
            return None
        if (
            not decision.allowed
            and decision.origin is not None
            and decision.origin != (request_origin or own_origin(scheme, host))
        ):
            api = policy.api if policy is not None else missing or ""
            self.count_refused(api, decision.origin, refusal_kind(decision, policy), decision)
        return decision, policy

    def _cold_decision(self, method: str, headers: Mapping[str, str], slug: str) -> Decision:
        lowered = {key.lower(): value for key, value in headers.items()}
        origin = lowered.get("origin")
        preflight = (
            origin is not None
            and method == "OPTIONS"
            and "access-control-request-method" in lowered
        )
        error = self._errors.get(slug, "not fetched yet")
        reason = (
            f"no policy document for {slug} ({error}; no shared copy, cache file or "
            "bootstrap file): cross-origin requests get no CORS headers"
        )
        if origin is not None and _log_every(self._logged, "cold:" + slug):
            logger.error("corsadmin: %s", reason)
        return Decision(
            allowed=origin is None,
            preflight=preflight,
            headers=dict(_VARY_ORIGIN),
            reason=reason,
            status=403 if preflight else None,
            applies=True,
            origin=origin,
            mode="enforce",
        )

    # --- health -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Per API: version, etag, age (seconds since central last confirmed it), stale,
        source and last error. ``ok`` is False when any API is missing or stale."""
        now = _now()
        apis: dict[str, Any] = {}
        ok = True
        for slug, held in zip(self.apis, self._snapshot.held, strict=True):
            if held is None:
                ok = False
                apis[slug] = {
                    "version": None,
                    "etag": None,
                    "mode": None,
                    "age": None,
                    "stale": True,
                    "source": None,
                    "last_error": self._errors.get(slug),
                }
                continue
            age = now - held.confirmed_at if held.confirmed_at else None
            stale = age is None or age > self.stale_after
            ok = ok and not stale
            apis[slug] = {
                "version": held.policy.version,
                "etag": held.etag,
                "mode": held.policy.mode,
                "age": round(age, 3) if age is not None else None,
                "stale": stale,
                "source": held.source,
                "last_error": self._errors.get(slug),
            }
        return {"ok": ok, "instance": self.instance_id, "apis": apis}

    def _log_staleness(self) -> None:
        for slug, state in self.health()["apis"].items():
            if state["stale"] and _log_every(self._logged, "stale:" + slug):
                if state["version"] is None:
                    logger.error("corsadmin: no policy document for %s: %s", slug, state)
                else:
                    logger.warning(
                        "corsadmin: policy for %s is stale: v%s from %s, %s s since central "
                        "confirmed it (last error: %s); still enforcing it",
                        slug,
                        state["version"],
                        state["source"],
                        state["age"],
                        state["last_error"],
                    )

    # --- accepting documents --------------------------------------------------------------

    def _index(self, slug: str) -> int:
        return self.apis.index(slug)

    def held(self, slug: str) -> Held | None:
        return self._snapshot.held[self._index(slug)]

    def _validate(self, slug: str, body: bytes) -> CompiledPolicy:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DocumentError(f"not JSON: {exc}") from exc
        policy = compile_policy(document)
        if policy.api != slug:
            raise DocumentError(f"the document is for API {policy.api!r}, not {slug!r}")
        return policy

    def _accept(
        self,
        slug: str,
        body: bytes,
        etag: str | None,
        *,
        confirmed_at: float,
        source: str,
        only_if_newer: bool = False,
    ) -> bool:
        """Validate and install a document; refuse (keeping the last good) when invalid."""
        current = self.held(slug)
        if current is not None and etag is not None and current.etag == etag:
            if confirmed_at > current.confirmed_at:
                self._install(slug, dataclasses.replace(current, confirmed_at=confirmed_at))
            return True
        if only_if_newer and current is not None and confirmed_at <= current.confirmed_at:
            return False
        try:
            policy = self._validate(slug, body)
        except DocumentError as exc:
            self._refuse(slug, source, str(exc))
            return False
        held = Held(
            api=slug,
            policy=policy,
            body=body,
            etag=etag,
            confirmed_at=confirmed_at,
            source=source,
        )
        self._install(slug, held)
        if current is None or current.policy.version != policy.version:
            logger.info("corsadmin: %s v%s (%s) from %s", slug, policy.version, policy.mode, source)
        if source not in ("cache-file", "bootstrap"):
            self._write_cache_file()
        return True

    def _refuse(self, slug: str, source: str, why: str) -> None:
        current = self.held(slug)
        kept = f"keeping v{current.policy.version}" if current else "no document held"
        self._errors[slug] = f"refused a document from {source}: {why}"
        logger.error(
            "corsadmin: refused the policy document for %s from %s: %s (%s)",
            slug,
            source,
            why,
            kept,
        )

    def _install(self, slug: str, held: Held) -> None:
        with self._state_lock:
            entries = list(self._snapshot.held)
            entries[self._index(slug)] = held
            self._snapshot = Snapshot(
                held=tuple(entries),
                policies=tuple(entry.policy for entry in entries if entry is not None),
            )

    # --- sources --------------------------------------------------------------------------

    def _initial_load(self) -> None:
        deadline = time.monotonic() + self.timeout
        for slug in self.apis:
            copy = self._read_shared_copy(slug)
            fresh = copy is not None and _now() - copy[2] < self.interval
            if (
                fresh
                and copy is not None
                and self._accept(slug, copy[0], copy[1], confirmed_at=copy[2], source="redis")
            ):
                continue
            remaining = deadline - time.monotonic()
            if self.url is not None and remaining > 0.05:
                with contextlib.suppress(_FetchError):
                    if self._fetch_and_accept(slug, timeout=remaining):
                        continue
            if copy is not None and self._accept(
                slug, copy[0], copy[1], confirmed_at=copy[2], source="redis"
            ):
                continue
        self._load_files()
        missing = [slug for slug in self.apis if self.held(slug) is None]
        if missing:
            logger.error(
                "corsadmin: no policy document for %s at start-up (%s) and no cache or "
                "bootstrap file has one: cross-origin requests get no CORS headers until "
                "central answers",
                ", ".join(missing),
                "; ".join(f"{slug}: {self._errors.get(slug, 'not fetched')}" for slug in missing),
            )

    def _load_files(self) -> None:
        """Fill what is still missing from the cache file, then the bootstrap file."""
        if self.cache_file is not None and any(h is None for h in self._snapshot.held):
            for slug, entry in self._read_cache_file().items():
                if slug in self.apis and self.held(slug) is None:
                    self._accept(
                        slug,
                        entry["body"].encode(),
                        entry.get("etag"),
                        confirmed_at=float(entry.get("confirmed_at") or 0),
                        source="cache-file",
                    )
        if self.bootstrap_file is not None and any(h is None for h in self._snapshot.held):
            for document in self._read_bootstrap():
                name = document.get("api") if isinstance(document, dict) else None
                if isinstance(name, str) and name in self.apis and self.held(name) is None:
                    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
                    self._accept(name, body, None, confirmed_at=0.0, source="bootstrap")

    def _read_cache_file(self) -> dict[str, dict[str, Any]]:
        assert self.cache_file is not None
        try:
            data = json.loads(self.cache_file.read_text())
            documents = data["documents"]
            if not isinstance(documents, dict):
                raise TypeError("documents is not an object")
            return {
                str(slug): entry
                for slug, entry in documents.items()
                if isinstance(entry, dict) and isinstance(entry.get("body"), str)
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.error("corsadmin: cache file %s is unreadable: %s", self.cache_file, exc)
            return {}

    def _write_cache_file(self) -> None:
        if self.cache_file is None:
            return
        documents = {
            held.api: {
                "body": held.body.decode(),
                "etag": held.etag,
                "confirmed_at": held.confirmed_at,
            }
            for held in self._snapshot.held
            if held is not None and held.source != "bootstrap"
        }
        temporary = self.cache_file.with_name(
            f".{self.cache_file.name}.{os.getpid()}.{threading.get_ident()}"
        )
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps({"documents": documents}))
            os.replace(temporary, self.cache_file)
        except OSError as exc:
            if _log_every(self._logged, "cache-file"):
                logger.warning("corsadmin: cannot write cache file %s: %s", self.cache_file, exc)
            with contextlib.suppress(OSError):
                temporary.unlink()

    def _read_bootstrap(self) -> list[Any]:
        assert self.bootstrap_file is not None
        try:
            data = json.loads(self.bootstrap_file.read_text())
        except (OSError, ValueError) as exc:
            logger.error("corsadmin: bootstrap file %s is unreadable: %s", self.bootstrap_file, exc)
            return []
        if isinstance(data, dict) and isinstance(data.get("policies"), list):
            # The list endpoint's answer, saved as is: {"policies": [{"etag", "document"}]}.
            return [entry.get("document") for entry in data["policies"] if isinstance(entry, dict)]
        if isinstance(data, dict):
            return [data]
        if isinstance(data, list):
            return data
        logger.error("corsadmin: bootstrap file %s is not a list of documents", self.bootstrap_file)
        return []

    def _fetch(self, slug: str, etag: str | None, timeout: float) -> tuple[bytes | None, str]:
        """(body, etag) from central; body None for 304. Raises _FetchError."""
        assert self.url is not None
        headers = {"If-None-Match": etag} if etag else {}
        try:
            response = self._http_client().get(
                f"{self.url}/api/v1/policies/{slug}",
                headers=headers,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)),
            )
        except httpx.HTTPError as exc:
            raise _FetchError(f"central unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 304 and etag:
            return None, etag
        if response.status_code != 200:
            raise _FetchError(f"central answered {response.status_code}: {response.text[:200]}")
        return response.content, response.headers.get("ETag", "") or ""

    def _fetch_and_accept(self, slug: str, *, timeout: float | None = None) -> bool:
        """One fetch from central; True when a good document is held afterwards."""
        current = self.held(slug)
        try:
            body, etag = self._fetch(
                slug,
                current.etag if current is not None else None,
                timeout if timeout is not None else self.timeout,
            )
        except _FetchError as exc:
            self._errors[slug] = str(exc)
            raise
        now = _now()
        if body is None:
            assert current is not None
            self._install(
                slug, dataclasses.replace(current, confirmed_at=now, source=current.source)
            )
            accepted = True
        else:
            accepted = self._accept(slug, body, etag or None, confirmed_at=now, source="central")
        if accepted:
            self._errors.pop(slug, None)
            self._write_shared_copy(slug)
        return accepted

    # --- Redis ----------------------------------------------------------------------------

    def _redis_call(self, what: str, call: Any, default: Any = None) -> Any:
        client = self._redis_client()
        if client is None:
            return default
        try:
            return call(client)
        except (redis.RedisError, OSError) as exc:
            if _log_every(self._logged, "redis"):
                logger.warning(
                    "corsadmin: redis unavailable (%s): %s; polling central directly", what, exc
                )
            return default

    def _read_shared_copy(self, slug: str) -> tuple[bytes, str | None, float] | None:
        values = self._redis_call(
            "read shared copy",
            lambda r: r.hmget(self._shared_prefix + slug, ["body", "etag", "confirmed_at"]),
        )
        if not values or not isinstance(values[0], bytes):
            return None
        body, etag, confirmed = values
        try:
            confirmed_at = float(confirmed or 0)
        except ValueError:
            confirmed_at = 0.0
        return body, etag.decode() if isinstance(etag, bytes) else None, confirmed_at

    def _write_shared_copy(self, slug: str) -> None:
        held = self.held(slug)
        if held is None or self.redis_url is None:
            return
        key = self._shared_prefix + slug

        def write(client: redis.Redis) -> None:
            pipe = client.pipeline()
            pipe.hset(
                key,
                mapping={
                    "body": held.body,
                    "etag": held.etag or "",
                    "confirmed_at": repr(held.confirmed_at),
                    "version": held.policy.version,
                },
            )
            pipe.expire(key, SHARED_COPY_TTL_SECONDS)
            pipe.execute()

        self._redis_call("write shared copy", write)

    def _adopt_shared_copy(self, slug: str) -> bool:
        copy = self._read_shared_copy(slug)
        if copy is None:
            return False
        return self._accept(
            slug, copy[0], copy[1], confirmed_at=copy[2], source="redis", only_if_newer=True
        )

    def _take_lock(self, slug: str) -> bool:
        """Whether this process fetches ``slug`` now (one fetch per interval per service)."""
        ttl_ms = int(max(self.interval * 0.9, self.timeout + 0.5) * 1000)
        taken = self._redis_call(
            "lock",
            lambda r: r.set(
                self._shared_prefix + slug + ":lock", self.instance_id, nx=True, px=ttl_ms
            ),
            default=True,  # Redis down: every process polls central directly
        )
        return bool(taken)

    def _read_central_copy(self, slug: str, etag: str) -> bool:
        """After a change notification: read central's Redis copy when it is that version."""
        values = self._redis_call(
            "read central's document",
            lambda r: r.hmget(self._central_doc_prefix + slug, ["body", "etag"]),
        )
        if not values or not isinstance(values[0], bytes) or not isinstance(values[1], bytes):
            return False
        if values[1].decode() != etag:
            return False
        if self._accept(slug, values[0], etag, confirmed_at=_now(), source="pubsub"):
            self._errors.pop(slug, None)
            self._write_shared_copy(slug)
            return True
        return False

    def _listen(self) -> None:
        """Subscribe to central's change channel; reconnect with backoff."""
        failures = 0
        first = True
        while not self._stop.is_set():
            assert self.redis_url is not None
            client = redis.Redis.from_url(
                self.redis_url, socket_connect_timeout=0.5, health_check_interval=5
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self._channel)
                if not first:
                    # Messages may have been missed while disconnected: check now.
                    self.request_refresh()
                first = False
                failures = 0
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._on_change(message.get("data"))
            except (redis.RedisError, OSError) as exc:
                failures += 1
                if _log_every(self._logged, "pubsub"):
                    logger.warning(
                        "corsadmin: change notifications unavailable (%s); polling every %ss",
                        exc,
                        self.interval,
                    )
                self._stop.wait(_backoff(failures, self.interval))
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()
                with contextlib.suppress(Exception):
                    client.close()

    def _on_change(self, data: Any) -> None:
        try:
            message = json.loads(data)
            slug = message["api"]
            etag = message.get("etag")
        except (ValueError, TypeError, KeyError):
            return
        if slug not in self.apis:
            return
        held = self.held(slug)
        if etag is not None and held is not None and held.etag == etag:
            return
        if etag is not None and self._read_central_copy(slug, str(etag)):
            return
        self.request_refresh(slug, str(etag) if etag else None)

    def request_refresh(self, slug: str | None = None, etag: str | None = None) -> None:
        """Ask the refresher to fetch now (``slug``: that API, else all)."""
        with self._state_lock:
            for name in [slug] if slug else self.apis:
                self._pending[name] = etag
        self._wake.set()

    # --- the refresher --------------------------------------------------------------------

    def refresh(self) -> bool:
        """One refresh round for every API; True when all are good. Runs in the background
        thread (also callable directly, e.g. from tests)."""
        with self._state_lock:
            pending, self._pending = self._pending, {}
        ok = True
        for slug in self.apis:
            forced = slug in pending
            try:
                ok = self._refresh_one(slug, forced=forced, wanted=pending.get(slug)) and ok
            except Exception:  # the refresher must survive anything
                logger.exception("corsadmin: refreshing %s failed", slug)
                ok = False
        return ok

    def _refresh_one(self, slug: str, *, forced: bool, wanted: str | None) -> bool:
        if self.redis_url is not None:
            copy = self._read_shared_copy(slug)
            if copy is not None:
                # Fetched by another process of this service within this interval.
                fresh = _now() - copy[2] < self.interval * 0.9
                if (wanted is not None and copy[1] == wanted) or (fresh and not forced):
                    self._accept(
                        slug,
                        copy[0],
                        copy[1],
                        confirmed_at=copy[2],
                        source="redis",
                        only_if_newer=True,
                    )
                    return self.held(slug) is not None
            if not forced and not self._take_lock(slug):
                # Another process of this service fetches now; its copy is read next round.
                if copy is not None:
                    self._accept(
                        slug,
                        copy[0],
                        copy[1],
                        confirmed_at=copy[2],
                        source="redis",
                        only_if_newer=True,
                    )
                return self.held(slug) is not None
        try:
            return self._fetch_and_accept(slug)
        except _FetchError as exc:
            if _log_every(self._logged, "fetch:" + slug, max(self.interval, 10.0)):
                logger.warning("corsadmin: cannot refresh %s: %s", slug, exc)
            if self.redis_url is not None:
                self._adopt_shared_copy(slug)
            return False

    def _run(self) -> None:
        delay = _jittered(self.interval)
        if any(held is None for held in self._snapshot.held):
            delay = _backoff(1, self.interval)
        while not self._stop.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                if self.refresh():
                    self._failures = 0
                    delay = _jittered(self.interval)
                else:
                    self._failures += 1
                    delay = _backoff(self._failures, self.interval)
                self._log_staleness()
                if self.telemetry_enabled and time.monotonic() >= self._next_telemetry:
                    self._next_telemetry = time.monotonic() + _jittered(self.telemetry_interval)
                    self.send_report()
            except Exception:  # the refresher must outlive any bug or surprise
                logger.exception("corsadmin: refresh round failed")
                delay = _backoff(max(self._failures, 1), self.interval)

    # --- telemetry ------------------------------------------------------------------------

    def count_refused(self, api: str, origin: str, kind: str, decision: Decision) -> None:
        """Count one refused request (bounded: new keys past the limit are dropped)."""
        key = (api, origin[:MAX_ORIGIN_CHARS], kind)
        with self._telemetry_lock:
            entry = self._refused.get(key)
            if entry is not None:
                entry[0] += 1
                return
            if len(self._refused) >= MAX_REFUSED_KEYS:
                self._dropped += 1
                return
            self._refused[key] = [1, decision.reason[:MAX_SAMPLE_CHARS]]

    def report_payload(self) -> dict[str, Any]:
        """The next report (drains the counters: put back with ``_restore`` on failure)."""
        with self._telemetry_lock:
            refused, self._refused = self._refused, {}
            dropped, self._dropped = self._dropped, 0
        health = self.health()
        return {
            "instance": self.instance_id,
            "service": self.service,
            "heartbeat": [
                {
                    "api": slug,
                    "version": state["version"],
                    "etag": state["etag"],
                    "mode": state["mode"],
                    "age": state["age"],
                    "stale": state["stale"],
                    "source": state["source"],
                    "last_error": state["last_error"],
                }
                for slug, state in health["apis"].items()
            ],
            "refused": [
                {"api": api, "origin": origin, "reason": kind, "count": count, "sample": sample}
                for (api, origin, kind), (count, sample) in refused.items()
            ],
            "dropped": dropped,
        }

    def _restore(self, payload: Mapping[str, Any]) -> None:
        with self._telemetry_lock:
            self._dropped += int(payload.get("dropped", 0))
            for item in payload.get("refused", []):
                key = (item["api"], item["origin"], item["reason"])
                entry = self._refused.get(key)
                if entry is not None:
                    entry[0] += item["count"]
                elif len(self._refused) < MAX_REFUSED_KEYS:
                    self._refused[key] = [item["count"], item["sample"]]
                else:
                    self._dropped += item["count"]

    def send_report(self) -> bool:
        """POST the heartbeat and refused counts to central; on failure keep the counts."""
        if self.url is None:
            return False
        payload = self.report_payload()
        try:
            response = self._http_client().post(f"{self.url}/api/v1/reports", json=payload)
        except httpx.HTTPError as exc:
            self._restore(payload)
            if _log_every(self._logged, "telemetry"):
                logger.info("corsadmin: telemetry not sent: %s", exc)
            return False
        if response.status_code >= 300:
            if response.status_code >= 500 or response.status_code == 429:
                self._restore(payload)
            if _log_every(self._logged, "telemetry"):
                logger.info("corsadmin: telemetry refused: %s", response.status_code)
            return False
        return True


def _jittered(seconds: float) -> float:
    """``seconds`` +-10 %: processes started together do not poll in lockstep."""
    return seconds * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not security


def _backoff(failures: int, interval: float) -> float:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at twice the interval."""
    cap = max(2 * interval, 1.0)
    ceiling = min(cap, 0.5 * 2 ** min(failures - 1, 20))
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
