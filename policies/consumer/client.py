"""The consumer client: holds each API's last good document and answers per request.

What a request costs: ``outcome()`` reads an immutable ``Snapshot``, finds the first API
whose ``paths`` cover the path, and looks the outcome up in that policy's memo
(``policies.consumer.core``). It never waits on the network: the first request of a
process starts the background threads and uses what the files hold (cache file, then
bootstrap file) or refuses, while the first fetch runs (``startup_wait`` > 0 lets it wait
that long instead).

In the background (restarted in each forked worker):

- the refresher: every ``interval`` (+-10 % jitter; exponential backoff with jitter after a
  failure) it reads the service's shared Redis copy or fetches from central with
  ``If-None-Match`` (``policies.consumer.central``; total deadline, maximum size), and sends
  telemetry;
- the listener (with ``redis_url``): central's change channel, so that a change applies well
  under a second after it is saved (``policies.consumer.shared``).

Every document, from any source, is accepted once: size, signature (``CORSADMIN_PUBLIC_KEYS``;
``policies.consumer.signatures``), JSON, schema, API, and never an older version from an
untrusted copy. A refused document is logged with its source and the last good one kept.
Nothing falls open. The log says once when a version is applied (api, version, source) and
once when the consumer falls back to an older copy. No Django import.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, replace
from typing import Any, Final, Unpack

import httpx

from policies.consumer import central, files
from policies.consumer.config import ClientOptions, ConfigurationError, Settings
from policies.consumer.core import ColdOutcomes, Outcome, PolicyOutcomes, own_origin
from policies.consumer.model import Copy, Held
from policies.consumer.shared import SharedStore, log_every
from policies.consumer.signatures import KeyError_, SignatureError, load_keys, verify
from policies.consumer.telemetry import Refusals
from policies.cors import CompiledPolicy, DocumentError, compile_policy

__all__ = ["PolicyClient", "Snapshot", "client_for"]

logger = logging.getLogger("policies.consumer")

FILE_SOURCES: Final = ("cache-file", "bootstrap")
_UNKNOWN: Final = object()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What requests read: per configured API (in ``apis`` order) what is held, and the
    outcomes to answer with (``ColdOutcomes`` while nothing is held)."""

    held: tuple[Held | None, ...]
    outcomes: tuple[PolicyOutcomes | ColdOutcomes, ...]

    @property
    def policies(self) -> tuple[CompiledPolicy, ...]:
        return tuple(held.policy for held in self.held if held is not None)


def client_for(
    client: PolicyClient | None, settings: Settings | None, options: ClientOptions
) -> PolicyClient:
    """A middleware's client: the one given, or one built from settings or keywords."""
    if client is not None:
        if options or settings is not None:
            raise ConfigurationError("client", "pass either client= or its options, not both")
        return client
    if settings is not None:
        if options:
            raise ConfigurationError("settings", "pass either settings= or keywords, not both")
        return PolicyClient(settings)
    return PolicyClient(Settings.from_keywords(**options))


def _jittered(seconds: float) -> float:
    """``seconds`` +-10 %: processes started together do not poll in lockstep."""
    return seconds * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not security


def _backoff(failures: int, interval: float) -> float:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at twice the interval."""
    cap = max(2 * interval, 1.0)
    ceiling = min(cap, 0.5 * 2 ** min(failures - 1, 20))
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security


class PolicyClient:
    """Keeps the documents of ``settings.apis`` fresh in the background; answers requests.

    ``PolicyClient(Settings.from_env())``, or ``PolicyClient.configure(url=..., token=...,
    apis=[...])`` with the keywords of ``policies.consumer.config.SETTINGS``. Raises
    ``ConfigurationError`` when the configuration cannot work (including unreadable keys).
    """

    def __init__(self, settings: Settings) -> None:
        problems = settings.problems()
        if problems:
            raise ConfigurationError(*problems[0])
        self.settings = settings
        self.apis = settings.apis
        self.url = settings.url.rstrip("/") if settings.url else None
        self.interval = settings.interval
        self.stale_after = 3 * self.interval + settings.fetch_deadline
        self.health_path = settings.health_path
        self.keys: dict[str, Any] | None = None
        if settings.public_keys is not None:
            try:
                self.keys = load_keys(settings.public_keys)
            except KeyError_ as exc:
                raise ConfigurationError("public_keys", str(exc)) from exc
        if not settings.verify_signatures:
            logger.warning(
                "corsadmin: SIGNATURE VERIFICATION IS OFF (CORSADMIN_VERIFY_SIGNATURES=false): "
                "documents from central, Redis and files are applied unsigned; anyone who can "
                "write to them can change this service's CORS policy. Development only."
            )
        self.store = (
            SharedStore(settings.redis_url, settings.redis_prefix) if (settings.redis_url) else None
        )
        self.refusals = Refusals()
        self._snapshot = Snapshot(
            held=(None,) * len(self.apis),
            outcomes=tuple(ColdOutcomes(slug) for slug in self.apis),
        )
        self._errors: dict[str, str] = {}
        # Failed refreshes per API since start (fetch errors and refused documents): the
        # consumer metrics' counter (policies.consumer.metrics).
        self.refresh_failures: dict[str, int] = {}
        self._logged: dict[str, float] = {}
        self._fallen_back: set[str] = set()
        self._own_origins: dict[tuple[str, str | None], object] = {}
        self._pending: dict[str, str | None] = {}
        self._failures = 0
        self._files_loaded = False
        self._init_process_state()
        ref = weakref.ref(self)

        def after_fork() -> None:
            client = ref()
            if client is not None:
                client._init_process_state()

        os.register_at_fork(after_in_child=after_fork)

    @classmethod
    def configure(cls, **options: Unpack[ClientOptions]) -> PolicyClient:
        """A client from middleware keywords (``url``, ``token``, ``apis``, ...)."""
        return cls(Settings.from_keywords(**options))

    # --- per process --------------------------------------------------------------------

    def _init_process_state(self) -> None:
        """Fresh locks, events, connections and threads (at creation and in a forked child)."""
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._started = False  # threads running and the start-up wait over
        self._threads_started = False
        self._start_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._first_round = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: httpx.Client | None = None
        if self.store is not None:
            self.store.reset()
        self._next_telemetry = time.monotonic() + min(self.settings.telemetry_interval, 5.0)
        self.refusals = Refusals()

    def _http_client(self) -> httpx.Client:
        if self._http is None:
            self._http = central.new_http(token=self.settings.token, timeout=self.settings.timeout)
        return self._http

    def ensure_started(self) -> None:
        """Load the files (local disk only) and start the background threads, once per
        process; with ``startup_wait`` and an API still without a document, wait that long
        at most for the first background round (every request arriving meanwhile too)."""
        if self._started:
            return
        with self._start_lock:
            if not self._threads_started:
                forked = self._files_loaded
                if not self._files_loaded:
                    self._load_files()
                    self._files_loaded = True
                self._start_threads()
                if forked:
                    self._wake.set()  # a forked worker: its inherited snapshot may be old
                self._threads_started = True
        if self.settings.startup_wait > 0 and any(h is None for h in self._snapshot.held):
            self._first_round.wait(self.settings.startup_wait)
        self._started = True

    def wait_ready(self, timeout: float) -> bool:
        """Start if needed and wait up to ``timeout`` s for the first background round;
        True when every API then has a document (tests, and servers that prefer to wait)."""
        self.ensure_started()
        self._first_round.wait(timeout)
        return all(held is not None for held in self._snapshot.held)

    def _start_threads(self) -> None:
        self._stop.clear()
        targets = []
        if self.url is not None:
            targets.append(("refresher", self._run))
        else:
            self._first_round.set()  # files only: nothing to wait for
        if self.store is not None and self.url is not None:
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
            thread.join(timeout=self.settings.fetch_deadline + 2)
        self._threads = []
        self._started = self._threads_started = False
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.store is not None:
            self.store.close()

    # --- the request path ---------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        self.ensure_started()
        return self._snapshot

    @property
    def policies(self) -> tuple[CompiledPolicy, ...]:
        return self.snapshot().policies

    def outcome(
        self,
        method: str,
        path: str,
        origin: str | None,
        request_method: str | None = None,
        request_headers: str | None = None,
        private_network: str | None = None,
        *,
        scheme: str = "http",
        host: str | None = None,
    ) -> Outcome | None:
        """The outcome for a request, or None when no configured API covers ``path`` (the
        path inside the application, after its mount point).

        An API without a document that comes first may cover it (its paths are unknown): a
        refusal from the engine. Refused cross-origin requests are counted by code, except
        the service's own origin (``scheme`` + ``host``, worked out for refusals only).
        """
        if not self._started:
            self.ensure_started()
        for outcomes in self._snapshot.outcomes:
            if isinstance(outcomes, ColdOutcomes):
                found = outcomes.outcome(
                    method, path, origin, request_method, request_headers, private_network
                )
                if origin is not None and log_every(self._logged, "cold:" + outcomes.api):
                    logger.error(
                        "corsadmin: no policy document for %s yet (%s): cross-origin requests "
                        "get no CORS headers",
                        outcomes.api,
                        self._errors.get(outcomes.api, "the first fetch is running"),
                    )
                break
            if outcomes.covers(path):
                found = outcomes.outcome(
                    method, path, origin, request_method, request_headers, private_network
                )
                break
        else:
            return None
        if found.refused is not None:
            own = self._own_origins.get((scheme, host), _UNKNOWN)
            if own is _UNKNOWN:
                own = own_origin(scheme, host)
                if len(self._own_origins) >= 64:
                    self._own_origins.clear()  # bounded: a service answers to few host names
                self._own_origins[(scheme, host)] = own
            if origin != own:
                self.refusals.count(found.api, origin or "", found.refused, found.decision.reason)
        return found

    # --- health -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Per API: version, etag, mode, age (seconds since central last confirmed it),
        stale, source and last error. ``ok`` is False when any API is missing or stale."""
        now = time.time()
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
        return {
            "ok": ok,
            "instance": self.instance_id,
            "signatures": "verified" if self.settings.verify_signatures else "NOT VERIFIED",
            "apis": apis,
        }

    def health_json(self) -> tuple[int, bytes]:
        """(status, body) of the health endpoint: 200 when every API is fresh, else 503."""
        self.ensure_started()
        state = self.health()
        return (200 if state["ok"] else 503), json.dumps(state).encode()

    def _log_staleness(self) -> None:
        for slug, state in self.health()["apis"].items():
            if state["stale"] and log_every(self._logged, "stale:" + slug):
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

    def held(self, slug: str) -> Held | None:
        return self._snapshot.held[self.apis.index(slug)]

    def _verify(self, copy: Copy) -> None:
        if not self.settings.verify_signatures:
            return
        if self.keys is None:
            raise SignatureError("no public keys yet (central's keys were not fetched)")
        verify(copy.body, copy.signature, self.keys)

    def _compile(self, slug: str, copy: Copy) -> CompiledPolicy:
        limit = self.settings.max_document_bytes
        if len(copy.body) > limit:
            raise DocumentError(
                f"{len(copy.body)} bytes, more than the maximum document size of {limit}"
            )
        try:
            self._verify(copy)
        except SignatureError as exc:
            raise DocumentError(f"bad signature: {exc}") from exc
        try:
            document = json.loads(copy.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DocumentError(f"not JSON: {exc}") from exc
        policy = compile_policy(document)
        if policy.api != slug:
            raise DocumentError(f"the document is for API {policy.api!r}, not {slug!r}")
        return policy

    def _accept(self, slug: str, copy: Copy, *, source: str, only_if_newer: bool = False) -> bool:
        """Verify, validate and install a document; True when a good document is held
        afterwards that this copy confirmed or replaced. Refused: logged, last good kept."""
        current = self.held(slug)
        if current is not None and copy.etag is not None and current.etag == copy.etag:
            # The same document (by its ETag) confirmed again: only its age changes.
            if copy.confirmed_at > current.confirmed_at:
                self._install(
                    slug,
                    replace(current, copy=replace(current.copy, confirmed_at=copy.confirmed_at)),
                )
            return True
        if only_if_newer and current is not None and copy.confirmed_at <= current.confirmed_at:
            return False
        try:
            policy = self._compile(slug, copy)
        except DocumentError as exc:
            self._refuse(slug, source, str(exc))
            return False
        if current is not None and policy.version < current.policy.version and source != "central":
            # An untrusted copy (Redis, a file) replaying an older, validly signed version.
            logger.warning(
                "corsadmin: ignored %s v%s from %s: v%s is held",
                slug,
                policy.version,
                source,
                current.policy.version,
            )
            return False
        self._install(slug, Held(api=slug, policy=policy, copy=copy, source=source))
        if current is None or current.policy.version != policy.version:
            logger.info(
                "corsadmin: applied %s v%s (%s) from %s", slug, policy.version, policy.mode, source
            )
        if source not in FILE_SOURCES:
            self._write_cache_file()
        return True

    def _refuse(self, slug: str, source: str, why: str) -> None:
        current = self.held(slug)
        kept = f"keeping v{current.policy.version}" if current else "no document held"
        self._errors[slug] = f"refused a document from {source}: {why}"
        self.refresh_failures[slug] = self.refresh_failures.get(slug, 0) + 1
        logger.error(
            "corsadmin: refused the policy document for %s from %s: %s (%s)",
            slug,
            source,
            why,
            kept,
        )

    def _install(self, slug: str, held: Held) -> None:
        with self._state_lock:
            index = self.apis.index(slug)
            entries = list(self._snapshot.held)
            outcomes = list(self._snapshot.outcomes)
            previous = entries[index]
            entries[index] = held
            if previous is None or previous.policy is not held.policy:
                outcomes[index] = PolicyOutcomes(held.policy)
            self._snapshot = Snapshot(held=tuple(entries), outcomes=tuple(outcomes))

    # --- sources --------------------------------------------------------------------------

    def _load_files(self) -> None:
        """At start: fill what is missing from the cache file, then the bootstrap file."""
        for path, source in (
            (self.settings.cache_file, "cache-file"),
            (self.settings.bootstrap_file, "bootstrap"),
        ):
            if path is None or all(held is not None for held in self._snapshot.held):
                continue
            reader = files.read_cache if source == "cache-file" else files.read_bootstrap
            for copy in reader(path):
                slug = self._slug_of(copy)
                if slug is not None and self.held(slug) is None:
                    self._accept(slug, copy, source=source)
        for slug, held in zip(self.apis, self._snapshot.held, strict=True):
            if held is not None:
                logger.warning(
                    "corsadmin: starting %s with v%s from the %s until central answers",
                    slug,
                    held.policy.version,
                    held.source,
                )

    def _slug_of(self, copy: Copy) -> str | None:
        """Which configured API a file entry claims to be (verified when accepted)."""
        try:
            api = json.loads(copy.body).get("api")
        except (ValueError, AttributeError, UnicodeDecodeError):
            return None
        return api if isinstance(api, str) and api in self.apis else None

    def _write_cache_file(self) -> None:
        path = self.settings.cache_file
        if path is None:
            return
        copies = [
            held.copy
            for held in self._snapshot.held
            if held is not None and held.source != "bootstrap"
        ]
        error = files.write_cache(path, copies)
        if error is not None and log_every(self._logged, "cache-file"):
            logger.warning("corsadmin: cannot write cache file %s: %s", path, error)

    def _ensure_keys(self) -> None:
        """Trust on first use (``fetch_public_keys``, opt-in): central's JWKS, once."""
        if self.keys is not None or not self.settings.fetch_public_keys or self.url is None:
            return
        deadline = time.monotonic() + self.settings.fetch_deadline
        try:
            jwks = central.fetch_keys(self._http_client(), url=self.url, deadline=deadline)
            self.keys = load_keys(jwks)
        except (central.FetchError, KeyError_) as exc:
            if log_every(self._logged, "keys"):
                logger.error("corsadmin: cannot fetch central's public keys: %s", exc)
            return
        logger.warning(
            "corsadmin: trusting central's public keys on first use (%s); pin them with "
            "CORSADMIN_PUBLIC_KEYS",
            ", ".join(str(key["kid"]) for key in self.keys["keys"]),
        )

    def _fetch_and_accept(self, slug: str) -> bool:
        """One fetch from central; True when central's document is held afterwards."""
        assert self.url is not None
        current = self.held(slug)
        deadline = time.monotonic() + self.settings.fetch_deadline
        try:
            fetched = central.fetch_document(
                self._http_client(),
                url=self.url,
                slug=slug,
                etag=current.etag if current is not None else None,
                deadline=deadline,
                max_bytes=self.settings.max_document_bytes,
            )
        except central.FetchError as exc:
            self._errors[slug] = str(exc)
            self.refresh_failures[slug] = self.refresh_failures.get(slug, 0) + 1
            raise
        now = time.time()
        if fetched.body is None:
            assert current is not None
            self._install(slug, replace(current, copy=replace(current.copy, confirmed_at=now)))
            accepted = True
        else:
            copy = Copy(
                body=fetched.body, signature=fetched.signature, etag=fetched.etag, confirmed_at=now
            )
            accepted = self._accept(slug, copy, source="central")
        if accepted:
            self._errors.pop(slug, None)
            if slug in self._fallen_back:
                self._fallen_back.discard(slug)
                logger.info("corsadmin: central answers again for %s", slug)
            self._write_shared_copy(slug)
        return accepted

    def _write_shared_copy(self, slug: str) -> None:
        held = self.held(slug)
        if held is not None and self.store is not None:
            self.store.write_copy(slug, held.copy, held.policy.version)

    # --- change notifications -------------------------------------------------------------

    def _listen(self) -> None:
        assert self.store is not None
        self.store.listen(
            self._stop,
            self._on_change,
            self.request_refresh,
            lambda failures: _backoff(failures, self.interval),
        )

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

    def _read_central_copy(self, slug: str, etag: str) -> bool:
        """After a change notification: apply central's Redis copy when it is that one."""
        assert self.store is not None
        copy = self.store.read_central(slug)
        if copy is None or copy.etag != etag:
            return False
        if self._accept(slug, copy, source="pubsub"):
            self._errors.pop(slug, None)
            self._write_shared_copy(slug)
            return True
        return False

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
        self._ensure_keys()
        ok = True
        for slug in self.apis:
            try:
                ok = (
                    self._refresh_one(slug, forced=slug in pending, wanted=pending.get(slug)) and ok
                )
            except Exception:  # the refresher must survive anything
                logger.exception("corsadmin: refreshing %s failed", slug)
                ok = False
        return ok

    def _refresh_one(self, slug: str, *, forced: bool, wanted: str | None) -> bool:
        held = self.held(slug)
        copy = self.store.read_copy(slug) if self.store is not None else None
        if copy is not None:
            # Fetched by another process of this service within this interval?
            fresh = time.time() - copy.confirmed_at < self.interval * 0.9
            if (wanted is not None and copy.etag == wanted) or (fresh and not forced):
                self._accept(slug, copy, source="redis", only_if_newer=True)
                return self.held(slug) is not None
        if self.store is not None and held is not None and not forced:
            ttl = max(self.interval * 0.9, self.settings.fetch_deadline + 0.5)
            if not self.store.take_lock(slug, self.instance_id, ttl):
                # Another process fetches now; its copy is read next round.
                if copy is not None:
                    self._accept(slug, copy, source="redis", only_if_newer=True)
                return self.held(slug) is not None
        try:
            return self._fetch_and_accept(slug)
        except central.FetchError as exc:
            if copy is not None:
                self._accept(slug, copy, source="redis", only_if_newer=True)
            self._fall_back(slug, str(exc))
            return False

    def _fall_back(self, slug: str, error: str) -> None:
        """Log once per outage what the consumer serves instead of central's answer."""
        if slug in self._fallen_back:
            return
        self._fallen_back.add(slug)
        held = self.held(slug)
        if held is None:
            logger.error(
                "corsadmin: cannot fetch %s: %s; no document held: cross-origin requests get "
                "no CORS headers until one arrives",
                slug,
                error,
            )
        else:
            logger.warning(
                "corsadmin: cannot fetch %s: %s; falling back to v%s from %s",
                slug,
                error,
                held.policy.version,
                held.source,
            )

    def _run(self) -> None:
        delay = 0.0  # the first round at once: requests are not waiting for it
        while not self._stop.is_set():
            if delay:
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
                self._first_round.set()
                self._log_staleness()
                if self.settings.telemetry and time.monotonic() >= self._next_telemetry:
                    self._next_telemetry = time.monotonic() + _jittered(
                        self.settings.telemetry_interval
                    )
                    self.send_report()
            except Exception:  # the refresher must outlive any bug or surprise
                logger.exception("corsadmin: refresh round failed")
                self._first_round.set()
                delay = _backoff(max(self._failures, 1), self.interval)

    # --- telemetry ------------------------------------------------------------------------

    def report_payload(self) -> dict[str, Any]:
        """The next report (drains the counters: put back with ``refusals.restore``)."""
        refused, dropped = self.refusals.drain()
        health = self.health()
        return {
            "instance": self.instance_id,
            "service": self.settings.service,
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
            "refused": refused,
            "dropped": dropped,
        }

    def send_report(self) -> bool:
        """POST the heartbeat and refused counts to central; on failure keep the counts."""
        if self.url is None:
            return False
        payload = self.report_payload()
        try:
            status = central.post_report(self._http_client(), url=self.url, payload=payload)
        except central.FetchError as exc:
            self.refusals.restore(payload)
            if log_every(self._logged, "telemetry"):
                logger.info("corsadmin: telemetry not sent: %s", exc)
            return False
        if status >= 300:
            if status >= 500 or status == 429:
                self.refusals.restore(payload)
            if log_every(self._logged, "telemetry"):
                logger.info("corsadmin: telemetry refused: %s", status)
            return False
        return True
