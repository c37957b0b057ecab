"""A fake central server (a real HTTP server in a thread), signed policy documents, clients.

Documents are signed as central signs them (design.md, "Signed documents"): Ed25519, a
compact JWS with a detached payload over the exact body, ``kid`` the RFC 7638 thumbprint;
the key is made here, once per test process.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import OKPKey

from policies.consumer.client import PolicyClient

TOKEN = "cors_test-token"


def document(api: str = "billing", version: int = 1, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": 1,
        "api": api,
        "version": version,
        "updated_at": "2026-11-25T12:00:00Z",
        "mode": "enforce",
        "paths": "^/api/",
        "origins": {
            "exact": ["https://app.example.com"],
            "wildcard": [],
            "regex": [],
            "allow_all": False,
            "allow_null": False,
        },
        "methods": ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"],
        "request_headers": ["authorization", "content-type"],
        "expose_headers": ["x-request-id"],
        "allow_credentials": True,
        "max_age": 600,
        "allow_private_network": False,
    }
    origins = overrides.pop("origins", None)
    if origins is not None:
        doc["origins"] = {**doc["origins"], **origins}
    doc.update(overrides)
    return doc


KEY = OKPKey.generate_key("Ed25519")
OTHER_KEY = OKPKey.generate_key("Ed25519")


def jwks(*keys: OKPKey) -> dict[str, Any]:
    """The public JWKS of ``keys`` (default: ``KEY``), each named by its thumbprint."""
    return {
        "keys": [{**key.as_dict(private=False), "kid": key.thumbprint()} for key in keys or (KEY,)]
    }


PUBLIC_JWKS = jwks()


def sign(body: bytes, key: OKPKey = KEY) -> str:
    """The detached compact JWS of ``body``: ``<header>..<signature>``."""
    header = {"alg": "EdDSA", "kid": key.thumbprint()}
    compact = jws.serialize_compact(header, body, key, algorithms=["EdDSA"])
    protected, _, signature = compact.split(".")
    return f"{protected}..{signature}"


def signed_entry(doc: dict[str, Any], key: OKPKey = KEY) -> dict[str, str]:
    """A cache or bootstrap file entry: the exact body as a string and its signature."""
    body = body_of(doc)
    return {"document": body.decode(), "signature": sign(body, key)}


def body_of(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class FakeCentral:
    """Serves documents like the real policy endpoint: bearer token, ETag, 304."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.signatures: dict[str, str | None] = {}
        self.status: int | None = None  # force this status for policy requests
        self.delay = 0.0
        self.hold: threading.Event | None = None  # policy answers wait until it is set
        self.trickle: float | None = None  # seconds between bytes of a policy answer
        self.trickling = False
        self.chunked = False  # answer without Content-Length (read until close)
        self.requests: list[tuple[str, str, dict[str, str], float]] = []
        self.reports: list[dict[str, Any]] = []
        central = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                central.requests.append(("GET", self.path, dict(self.headers), time.monotonic()))
                if self.path == "/api/v1/keys":
                    self._send(200, json.dumps(PUBLIC_JWKS).encode())
                    return
                if central.hold is not None:
                    central.hold.wait(10)
                if central.delay:
                    time.sleep(central.delay)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, b'{"detail":"bad token"}')
                    return
                if central.status is not None:
                    self._send(central.status, b"unavailable")
                    return
                slug = self.path.rsplit("/", 1)[-1]
                body = central.bodies.get(slug)
                if body is None:
                    self._send(404, b'{"detail":"no policy"}')
                    return
                etag = etag_of(body)
                if self.headers.get("If-None-Match") == etag:
                    self._send(304, ETag=etag)
                    return
                signature = central.signatures.get(slug, sign(body))
                extra = {"Corsadmin_Signature": signature} if signature else {}
                if central.trickle is not None:
                    self._trickle(body, etag, central.trickle)
                    return
                if central.chunked:
                    self.send_response(200)
                    self.send_header("ETag", etag)
                    for name, value in extra.items():
                        self.send_header(name.replace("_", "-"), value)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                    self.close_connection = True
                    return
                self._send(200, body, ETag=etag, Content_Type="application/json", **extra)

            def _trickle(self, body: bytes, etag: str, every: float) -> None:
                central.trickling = True
                try:
                    self.send_response(200)
                    self.send_header("ETag", etag)
                    self.send_header("Corsadmin-Signature", sign(body))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for index in range(len(body)):
                        self.wfile.write(body[index : index + 1])
                        self.wfile.flush()
                        time.sleep(every)
                except OSError:
                    pass  # the client gave up: what the test wants
                finally:
                    central.trickling = False

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                central.requests.append(("POST", self.path, dict(self.headers), time.monotonic()))
                central.reports.append(json.loads(data))
                self._send(202, b'{"stored":1,"ignored":0}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def publish(self, doc: dict[str, Any]) -> str:
        body = body_of(doc)
        self.bodies[doc["api"]] = body
        self.signatures.pop(doc["api"], None)
        return etag_of(body)

    def serve_raw(self, slug: str, body: bytes, signature: str | None = "sign") -> None:
        """Serve ``body`` as is, signed by ``KEY`` unless another ``signature`` (or None)."""
        self.bodies[slug] = body
        self.signatures[slug] = sign(body) if signature == "sign" else signature

    def policy_gets(self, slug: str | None = None) -> int:
        return sum(
            1
            for method, path, _, _ in self.requests
            if method == "GET" and (slug is None or path.endswith("/" + slug))
        )

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def central() -> Iterator[FakeCentral]:
    server = FakeCentral()
    server.publish(document())
    yield server
    server.close()


# Pub/sub channels are server-wide: parallel workers sharing CI's Redis each use their own
# prefix (the same one tests/settings.py gives the central side).
REDIS_PREFIX = f"corsadmin-test-{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}"


@pytest.fixture
def make_client() -> Iterator[Any]:
    """Build clients (closed after the test); quiet by default: long interval, no telemetry."""
    clients: list[PolicyClient] = []

    def make(url: str | None, apis: Any = "billing", **kwargs: Any) -> PolicyClient:
        kwargs.setdefault("interval", 60)
        kwargs.setdefault("timeout", 1.0)
        kwargs.setdefault("fetch_deadline", 3.0)
        kwargs.setdefault("telemetry", False)
        kwargs.setdefault("redis_prefix", REDIS_PREFIX)
        kwargs.setdefault("public_keys", PUBLIC_JWKS)
        # The first request waits for the first round (so tests start from a known state);
        # tests of the non-blocking start set startup_wait=0.
        kwargs.setdefault("startup_wait", 5.0)
        token = kwargs.pop("token", TOKEN if url else None)
        client = PolicyClient.configure(url=url, token=token, apis=apis, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


ORIGIN = "https://app.example.com"
EVIL = "https://evil.example.net"


def cors_get(client: PolicyClient, origin: str = ORIGIN, path: str = "/api/x") -> dict[str, str]:
    """The CORS headers an actual GET from ``origin`` gets (``Vary`` included)."""
    outcome = client.outcome("GET", path, origin)
    assert outcome is not None
    return outcome.decision.headers


def wait_for(predicate: Any, seconds: float = 5.0) -> None:
    """Poll ``predicate`` every 10 ms until true; AssertionError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)
