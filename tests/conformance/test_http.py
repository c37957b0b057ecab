"""The conformance cases marked ``e2e``, end to end over HTTP through every middleware:
Django, WSGI and ASGI (``policies.consumer``) and Express (``clients/node``).

Each middleware is configured only through its public keywords with a bootstrap file holding
the case's document (signed, as central signs, when the consumer verifies signatures), so no
central server is needed. One server per distinct document, each on its own loopback port,
in one process per middleware; the application behind it answers ``200 ok`` and sets no
CORS header of its own. A preflight's status is the middleware's; any other request's status
is the application's 200.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import OKPKey

from policies.consumer.client import ClientOptions, PolicyClient
from tests.conformance.cases import load_cases, observed_headers
from tests.conformance.node import node_package

pytestmark = [
    pytest.mark.xdist_group("conformance-http"),
    pytest.mark.filterwarnings("ignore:EdDSA is deprecated"),
]

HERE = Path(__file__).resolve().parent
KINDS = ("django", "wsgi", "asgi", "express")
E2E = [(name, case) for name, case in load_cases() if case.get("e2e")]
DOCUMENTS = list(dict.fromkeys(json.dumps(case["document"], sort_keys=True) for _, case in E2E))


def _python_keywords() -> set[str]:
    """The keywords the Python middlewares take (their documented ``ClientOptions``)."""
    return set(ClientOptions.__annotations__) | set(
        inspect.signature(PolicyClient.__init__).parameters
    )


class Servers:
    """One process serving every distinct document behind one middleware."""

    def __init__(self, kind: str, workdir: Path, key: OKPKey) -> None:
        self.kind = kind
        jwks = {"keys": [{**key.as_dict(private=False), "kid": key.thumbprint()}]}
        keywords = _python_keywords()
        signed = kind == "express" or "public_keys" in keywords
        options: list[dict[str, Any]] = []
        for index, text in enumerate(DOCUMENTS):
            body = json.dumps(json.loads(text))
            entries: list[Any]
            if text == "null":
                entries = []  # no document held: a cold start
            elif signed:
                compact = jws.serialize_compact(
                    {"alg": "EdDSA", "kid": key.thumbprint()}, body, key, algorithms=["EdDSA"]
                )
                header, _, signature = compact.split(".")
                entries = [{"document": body, "signature": f"{header}..{signature}"}]
            else:
                entries = [json.loads(body)]  # a consumer that reads plain documents
            bootstrap = workdir / f"{kind}-{index}.json"
            bootstrap.write_text(json.dumps(entries))
            if kind == "express":
                options.append(
                    {"apis": ["conformance"], "bootstrapFile": str(bootstrap), "publicKeys": jwks}
                )
            else:
                option: dict[str, Any] = {"apis": ["conformance"], "bootstrap_file": str(bootstrap)}
                if "public_keys" in keywords:
                    option["public_keys"] = json.dumps(jwks)
                options.append(option)
        if kind == "express":
            command = [node_package(), str(HERE / "express_server.js"), json.dumps(options)]
        else:
            command = [sys.executable, str(HERE / "serve_python.py"), kind, json.dumps(options)]
        self.log = workdir / f"{kind}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL
            )
        self.ports = self._read_ports()

    def _read_ports(self) -> list[int]:
        assert self.process.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(60)
        if not line or not line[0]:
            self.stop()
            raise RuntimeError(
                f"{self.kind} servers did not start:\n{self.log.read_text()[-3000:]}"
            )
        return [int(port) for port in json.loads(line[0])]

    def url(self, document: dict[str, Any]) -> str:
        index = DOCUMENTS.index(json.dumps(document, sort_keys=True))
        return f"http://127.0.0.1:{self.ports[index]}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture(scope="module")
def signing_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519")


@pytest.fixture(scope="module", params=KINDS)
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, signing_key: OKPKey
) -> Iterator[Servers]:
    kind = str(request.param)
    started = Servers(kind, tmp_path_factory.mktemp(f"conformance-{kind}"), signing_key)
    try:
        yield started
    finally:
        started.stop()


def test_e2e__subset__large_enough_and_http_sendable() -> None:
    # Given the e2e subset / Then it has at least 40 cases, each sendable by an HTTP client
    assert len(E2E) >= 40
    for _, case in E2E:
        for name, value in case["request"]["headers"].items():
            assert value.isascii(), name
            assert value == value.strip(), name
        assert case["request"]["path"].isascii()


@pytest.mark.parametrize("case", [pytest.param(case, id=name) for name, case in E2E])
def test_middleware__conformance_case_over_http__expected_status_and_headers(
    servers: Servers, case: dict[str, Any]
) -> None:
    # Given a middleware serving the case's document behind an app that answers 200 ok
    request = case["request"]
    # When the request is sent over HTTP
    response = httpx.request(
        request["method"],
        servers.url(case["document"]) + request["path"],
        headers=request["headers"],
        timeout=10,
    )
    # Then the status (the middleware's for a preflight, else the app's) and every CORS
    # response header are exactly the expected ones
    expect = case["expect"]
    status = expect["status"] if expect["status"] is not None else 200
    assert (response.status_code, observed_headers(response.headers)) == (
        status,
        expect["headers"],
    )
