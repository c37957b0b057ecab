"""The values the consumer modules pass around (no behaviour). No Django import."""

from __future__ import annotations

from dataclasses import dataclass

from policies.cors import CompiledPolicy

__all__ = ["Copy", "Held"]


@dataclass(frozen=True, slots=True)
class Copy:
    """A document as some source holds it, not yet verified nor compiled.

    ``body`` is the exact bytes central served (what the signature covers); ``confirmed_at``
    the wall-clock time central last confirmed it (0: never, e.g. a bootstrap file).
    """

    body: bytes
    signature: str | None
    etag: str | None
    confirmed_at: float


@dataclass(frozen=True, slots=True)
class Held:
    """One API's last good document: verified, compiled, and where it came from."""

    api: str
    policy: CompiledPolicy
    copy: Copy
    source: str
    """central, redis (the shared copy), pubsub (central's Redis copy), cache-file or
    bootstrap."""

    @property
    def etag(self) -> str | None:
        return self.copy.etag

    @property
    def confirmed_at(self) -> float:
        return self.copy.confirmed_at

    @property
    def body(self) -> bytes:
        return self.copy.body
