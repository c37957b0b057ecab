"""One HTTP POST to a webhook receiver, safely (pure Python with httpx; no Django).

- The host is resolved and checked once (`webhooks.ssrf.resolve`) and the connection goes
  to that address: the URL's host is replaced by the address, `Host` and TLS SNI (and so
  certificate verification) keep the name.
- Redirects are not followed (a 3xx is a failure), proxies from the environment are not
  used, the timeout is short and at most `max_bytes` of the answer are read.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from webhooks import ssrf

USER_AGENT = "corsadmin-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None
    duration_ms: float
    error: str = ""
    excerpt: str = ""


def _netloc(address: ssrf.IPAddress, port: int) -> str:
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    return f"{host}:{port}"


def _host_header(target: ssrf.Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def post(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    allow_private: bool,
    timeout: float,
    max_bytes: int,
) -> Outcome:
    """POST `body` to `url`; never raises for network trouble: the outcome says what went
    wrong (`error`), with the status code when there was one. `ok` means a 2xx."""
    started = time.perf_counter()

    def done(**kwargs: object) -> Outcome:
        duration = (time.perf_counter() - started) * 1000
        return Outcome(duration_ms=round(duration, 1), **kwargs)  # type: ignore[arg-type]

    try:
        target = ssrf.parse(url)
        address = ssrf.resolve(target, allow_private=allow_private)[0]
    except ssrf.UnsafeUrl as exc:
        return done(ok=False, status_code=None, error=f"refused: {exc}")
    except OSError as exc:
        return done(ok=False, status_code=None, error=f"cannot resolve {url}: {exc}")
    pinned = f"{target.scheme}://{_netloc(address, target.port)}{target.path}"
    request_headers = {
        **headers,
        "Host": _host_header(target),
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with httpx.Client(
            follow_redirects=False, trust_env=False, timeout=httpx.Timeout(timeout)
        ) as client:
            request = client.build_request(
                "POST", pinned, content=body, headers=request_headers, extensions=extensions
            )
            response = client.send(request, stream=True)
            try:
                received = bytearray()
                for chunk in response.iter_bytes():
                    received += chunk
                    if len(received) >= max_bytes:
                        break
                    # A receiver dripping bytes never trips the per-read timeout: cap the
                    # whole exchange too.
                    if time.perf_counter() - started > 2 * timeout:
                        raise httpx.ReadTimeout("the answer took too long", request=request)
                excerpt = bytes(received[:500]).decode("utf-8", "replace")
                code = response.status_code
            finally:
                response.close()
    except httpx.TimeoutException:
        return done(ok=False, status_code=None, error=f"timed out after {timeout:g} s")
    except httpx.HTTPError as exc:
        return done(ok=False, status_code=None, error=f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= code < 300:
        return done(ok=True, status_code=code, excerpt=excerpt)
    error = f"HTTP {code}"
    if 300 <= code < 400:
        error += " (redirects are not followed: use the final URL)"
    return done(ok=False, status_code=code, error=error, excerpt=excerpt)
