"""Where a webhook may be sent: refuse URLs that reach into the server's own networks.

Pure Python (no Django). A URL is checked twice: when a subscription is saved (a clear
error early) and before every attempt, where the host is resolved once and the request is
sent to exactly the address that was checked (`webhooks.transport`), so a name that
resolves to a public address at check time and to 127.0.0.1 a moment later (DNS rebinding)
cannot slip through.

Refused unless `allow_private`: loopback, private (RFC 1918, RFC 4193), link-local
(169.254/16, fe80::/10, the cloud metadata address), shared (100.64/10), reserved,
multicast, unspecified, and IPv6 forms that embed such an IPv4 address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2000


class UnsafeUrl(ValueError):
    """A URL that may not be used for webhooks; the message says why, for a person."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    scheme: str
    host: str  # lower-case name, or an IP address without brackets
    port: int
    path: str  # path and query, at least "/"


def parse(url: str) -> Target:
    """Check the form of `url` (http or https, a host, no credentials, no fragment)."""
    url = (url or "").strip()
    if not url:
        raise UnsafeUrl("a URL is required")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise UnsafeUrl("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("the URL must start with https:// (or http://)")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in the URL are not allowed (the signature authenticates)")
    if parts.fragment:
        raise UnsafeUrl("a URL with a #fragment is not sent anywhere: remove it")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("the URL has no host name")
    try:
        host = host.encode("idna").decode("ascii").lower() if not _is_ip(host) else host
    except UnicodeError:
        raise UnsafeUrl(f"{host!r} is not a valid host name") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        path=path,
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def forbidden(address: IPAddress) -> bool:
    """True for any address that is not a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if address.teredo:
            embedded = address.teredo[1]
        if embedded is not None and forbidden(embedded):
            return True
    return (
        not address.is_global
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def _why(address: IPAddress) -> str:
    for name in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return "non-public"


def resolve(target: Target, *, allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to, each checked. Every address the name resolves to must be
    allowed (one private address among public ones refuses the URL).

    Raises `UnsafeUrl` for a forbidden address and `OSError` (socket.gaierror) when the name
    does not resolve.
    """
    if _is_ip(target.host):
        addresses: list[IPAddress] = [ipaddress.ip_address(target.host)]
    elif not allow_private and (target.host == "localhost" or target.host.endswith(".localhost")):
        raise UnsafeUrl(f"{target.host} is this machine (loopback): not allowed for webhooks")
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except UnicodeError:
            raise UnsafeUrl(f"{target.host!r} is not a valid host name") from None
        addresses = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
    if not allow_private:
        for address in addresses:
            if forbidden(address):
                raise UnsafeUrl(
                    f"{target.host} resolves to {address}, a {_why(address)} address: "
                    "webhooks are only sent to public addresses"
                )
    return addresses


def check(url: str, *, allow_private: bool, resolve_names: bool = True) -> Target:
    """Parse and check a URL when a subscription is saved. A name that does not resolve
    (yet) is accepted: each attempt resolves and checks again."""
    target = parse(url)
    if resolve_names or _is_ip(target.host):
        with contextlib.suppress(OSError):
            resolve(target, allow_private=allow_private)
    return target
