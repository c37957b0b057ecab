"""What this process knows of the database, and how recently: each API's current version,
and the service-token revocation counter.

The policy endpoint serves from Redis and from per-process caches without asking the
database on every request, yet must not serve a document the database has moved past (a
replayed old one, or one a lost delivery left behind), nor accept a revoked token. So each
answer here is at most `CORSADMIN_DB_CHECK_SECONDS` old (0.5 s by default): past that, the
next request asks again, with one small indexed query. A process's own writes update it at
once, and a document in Redis newer than what is known makes the reader ask at once
(read-your-writes across processes). The revocation counter is the id of the newest
`tokens` outbox message, written in the revocation's transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max

from policies.documents import timestamp
from policies.models import Api, OutboxKind, OutboxMessage


@dataclass(frozen=True, slots=True)
class Current:
    """An API's current version as the database has it."""

    api_id: int
    version: int
    updated_at: str  # as the document writes it (policies.documents.timestamp)

    def matches(self, version: int, updated_at: str | None) -> bool:
        return self.version == version and self.updated_at == updated_at


_known: dict[str, tuple[float, Current | None]] = {}  # slug -> (checked at, current)
_generation: list[tuple[float, int]] = []  # [(checked at, revocation counter)]


def _max_age() -> float:
    return float(settings.CORSADMIN_DB_CHECK_SECONDS)


def current(slugs: Iterable[str], *, force: bool = False) -> dict[str, Current | None]:
    """slug -> the API's current version (None: no such API), asking the database only for
    slugs not checked within CORSADMIN_DB_CHECK_SECONDS (all of them if `force`)."""
    now = time.monotonic()
    wanted = list(slugs)
    horizon = now - _max_age()
    stale = [slug for slug in wanted if force or _known.get(slug, (-1e18, None))[0] < horizon]
    if stale:
        found = {
            slug: Current(api_id=api_id, version=version, updated_at=timestamp(updated) or "")
            for slug, api_id, version, updated in Api.objects.filter(slug__in=stale)
            .order_by()
            .values_list("slug", "id", "version", "updated_at")
        }
        for slug in stale:
            _known[slug] = (now, found.get(slug))
    return {slug: _known[slug][1] for slug in wanted}


def note(api: Api) -> None:
    """Record what this process just read from (or wrote to) the database."""
    _known[api.slug] = (
        time.monotonic(),
        Current(api_id=api.pk, version=api.version, updated_at=timestamp(api.updated_at) or ""),
    )


def note_gone(slug: str) -> None:
    _known[slug] = (time.monotonic(), None)


def token_generation(*, force: bool = False) -> int:
    """The database's revocation counter, at most CORSADMIN_DB_CHECK_SECONDS old."""
    now = time.monotonic()
    if not force and _generation and _generation[0][0] >= now - _max_age():
        return _generation[0][1]
    newest = OutboxMessage.objects.filter(kind=OutboxKind.TOKENS).aggregate(newest=Max("id"))
    value = int(newest["newest"] or 0)
    _generation[:] = [(now, value)]
    return value


def note_token_generation(value: int) -> None:
    """A revocation this process committed: its cached tokens are re-checked at once."""
    _generation[:] = [(time.monotonic(), value)]


def forget() -> None:
    """Drop everything known (tests; a process after fork needs nothing of this)."""
    _known.clear()
    _generation.clear()
