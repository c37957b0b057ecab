"""Talking to central over HTTP: the policy endpoint, the keys, the reports endpoint.

Every call is bounded twice: ``timeout`` for connecting and for each read, and a total
``deadline`` for the whole answer, so a central that trickles one byte a second cannot hold
a fetch forever; and the body is read at most ``max_bytes`` far (decoded size: a compressed
bomb counts what it inflates to), so a 300 MB answer is refused after the first few MB
instead of taking the process's memory. Only the background refresher calls these: a
request never waits on them. No Django import.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Final

import httpx

__all__ = ["FetchError", "Fetched", "fetch_document", "fetch_keys", "new_http", "post_report"]

SIGNATURE_HEADER: Final = "Corsadmin-Signature"
USER_AGENT: Final = "corsadmin-consumer/2"


class FetchError(Exception):
    """Central could not give a usable answer (unreachable, slow, refused, too big)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """One answer of the policy endpoint: ``body`` None for ``304 Not Modified``."""

    body: bytes | None
    etag: str | None
    signature: str | None


def new_http(*, token: str | None, timeout: float) -> httpx.Client:
    """An HTTP client for central: bearer token, no redirects (a token is never sent
    elsewhere), ``timeout`` for connect (capped at 1 s) and each read."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)),
        headers=headers,
        follow_redirects=False,
    )


def _read_bounded(response: httpx.Response, *, deadline: float, max_bytes: int) -> bytes:
    """The body, or FetchError past ``deadline`` (monotonic) or ``max_bytes``."""
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise FetchError(
            f"central's answer is {int(length)} bytes, more than the maximum document size "
            f"of {max_bytes} bytes (CORSADMIN_MAX_DOCUMENT_BYTES); not read"
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(
                f"central's answer is more than the maximum document size of {max_bytes} "
                "bytes (CORSADMIN_MAX_DOCUMENT_BYTES); stopped reading"
            )
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise FetchError(
                f"central's answer took longer than the fetch deadline ({size} bytes so far); "
                "abandoned (CORSADMIN_FETCH_DEADLINE)"
            )
    return b"".join(chunks)


def fetch_document(
    http: httpx.Client,
    *,
    url: str,
    slug: str,
    etag: str | None,
    deadline: float,
    max_bytes: int,
) -> Fetched:
    """``GET <url>/api/v1/policies/<slug>`` with ``If-None-Match``; ``deadline`` is a
    ``time.monotonic()`` instant. Raises ``FetchError`` for anything but a 200 or a 304."""
    headers = {"If-None-Match": etag} if etag else {}
    try:
        with http.stream("GET", f"{url}/api/v1/policies/{slug}", headers=headers) as response:
            if response.status_code == 304 and etag:
                return Fetched(body=None, etag=etag, signature=None)
            if response.status_code != 200:
                text = _read_bounded(response, deadline=deadline, max_bytes=4096)
                shown = text[:200].decode("utf-8", "replace")
                raise FetchError(f"central answered {response.status_code}: {shown}")
            body = _read_bounded(response, deadline=deadline, max_bytes=max_bytes)
            return Fetched(
                body=body,
                etag=response.headers.get("ETag") or None,
                signature=response.headers.get(SIGNATURE_HEADER) or None,
            )
    except httpx.HTTPError as exc:
        raise FetchError(f"central unreachable: {type(exc).__name__}: {exc}") from exc


def fetch_keys(http: httpx.Client, *, url: str, deadline: float) -> dict[str, Any]:
    """Central's public keys (``GET /api/v1/keys``, a JWKS), for trust on first use."""
    try:
        with http.stream("GET", f"{url}/api/v1/keys") as response:
            body = _read_bounded(response, deadline=deadline, max_bytes=256 * 1024)
            if response.status_code != 200:
                raise FetchError(f"central answered {response.status_code} for its keys")
    except httpx.HTTPError as exc:
        raise FetchError(f"central unreachable: {type(exc).__name__}: {exc}") from exc
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise FetchError(f"central's keys are not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise FetchError("central's keys are not a JWKS object")
    return data


def post_report(http: httpx.Client, *, url: str, payload: dict[str, Any]) -> int:
    """POST telemetry; the status code. Raises ``FetchError`` when central is unreachable."""
    try:
        return http.post(f"{url}/api/v1/reports", json=payload).status_code
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc
