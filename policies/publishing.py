"""Signed documents on their way to Redis, and back: build, deliver, check.

`build` compiles an API's document and signs its exact bytes (policies.signing). The
outbox (policies.outbox) calls `deliver_document` / `deliver_deleted` after each committed
change; `republish_all` is the 5-minute net. Readers call `served_document`, which trusts a
document from Redis only if its signature verifies with central's keys and its version is
the database's current one (policies.freshness); anything else is refused, logged with
its source, and rebuilt from the database (and put back into Redis).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from policies import freshness, signing, store
from policies.documents import compile_document, document_bytes, etag_for
from policies.models import Api
from policies.signatures import SignatureError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Signed:
    """A document as served: its exact bytes, their ETag and detached JWS, what it says."""

    slug: str
    body: bytes
    etag: str
    signature: str
    version: int
    updated_at: str | None


# (key id, body) -> signature: a rebuild of an unchanged document is not signed again.
_signed_bodies: dict[tuple[str, bytes], str] = {}


def build(api: Api) -> Signed:
    """Compile and sign `api`'s document (queries its origins unless prefetched)."""
    body = document_bytes(compile_document(api))
    memo = (signing.current_kid(), body)
    signature = _signed_bodies.get(memo)
    if signature is None:
        signature = signing.sign(body)
        if len(_signed_bodies) > 512:
            _signed_bodies.clear()
        _signed_bodies[memo] = signature
    document = json.loads(body)
    return Signed(
        slug=api.slug,
        body=body,
        etag=etag_for(body),
        signature=signature,
        version=api.version,
        updated_at=document["updated_at"],
    )


def _load(api_id: int) -> Api | None:
    return Api.objects.select_related("team").prefetch_related("origins").filter(pk=api_id).first()


# --- checking what Redis holds ------------------------------------------------------------

# slug -> (the key ring it was checked with, the last document from Redis that verified)
_verified: dict[str, tuple[object, Signed]] = {}


def _refuse(slug: str, source: str, why: str) -> None:
    logger.warning("refused the document of %r from %s: %s", slug, source, why)


def _verify(slug: str, body: bytes, signature: str, *, source: str) -> Signed | None:
    """The document if it is signed by central and is `slug`'s; None (logged) otherwise."""
    ring = signing.keyring()  # a key removed from the file: what it signed is re-checked
    memo = _verified.get(slug)
    if memo is not None and memo[0] is ring:
        held = memo[1]
        if held.body == body and held.signature == signature:
            return held
    try:
        signing.verify(body, signature)
        document = json.loads(body)
        version, api, updated_at = document["version"], document["api"], document["updated_at"]
    except SignatureError as exc:
        _refuse(slug, source, str(exc))
        return None
    except (ValueError, KeyError, TypeError) as exc:
        _refuse(slug, source, f"signed, but not a policy document ({exc})")
        return None
    if api != slug or not isinstance(version, int):
        _refuse(slug, source, f"it is the document of {api!r}, not of {slug!r}")
        return None
    checked = Signed(
        slug=slug,
        body=body,
        etag=etag_for(body),
        signature=signature,
        version=version,
        updated_at=updated_at,
    )
    if len(_verified) > 4096:
        _verified.clear()
    _verified[slug] = (ring, checked)
    return checked


def check_cached(slug: str, held: tuple[bytes, str] | None, *, source: str) -> Signed | None:
    """The document Redis holds for `slug` if it may be served: signed by central, and the
    database's current version (known within CORSADMIN_DB_CHECK_SECONDS; a newer one than
    known makes this ask at once). None, logged when refused, otherwise."""
    if held is None:
        return None
    document = _verify(slug, *held, source=source)
    if document is None:
        return None
    current = freshness.current([slug])[slug]
    if current is not None and current.matches(document.version, document.updated_at):
        return document
    if current is None or document.version > current.version:
        # Perhaps another process just committed it: ask the database now.
        current = freshness.current([slug], force=True)[slug]
        if current is not None and current.matches(document.version, document.updated_at):
            return document
    _refuse(
        slug,
        source,
        f"it is version {document.version} ({document.updated_at}), the database has "
        + (f"version {current.version} ({current.updated_at})" if current else "no such API"),
    )
    return None


def from_database(slug: str) -> Signed | None:
    """`slug`'s document built from the database, put back into Redis; None if no API."""
    api = Api.objects.select_related("team").prefetch_related("origins").filter(slug=slug).first()
    if api is None:
        freshness.note_gone(slug)
        return None
    freshness.note(api)
    signed = build(api)
    _store(api, signed)
    return signed


def served_document(slug: str, held: tuple[bytes, str] | None) -> Signed | None:
    """What the policy endpoint serves for `slug`, given what Redis held (or None)."""
    return check_cached(slug, held, source="redis") or from_database(slug)


def document_for(slug: str) -> Signed | None:
    """`slug`'s current signed document: from Redis if it passes the checks, else built."""
    return served_document(slug, store.get_document(slug))


# --- delivering to Redis ------------------------------------------------------------------


def _store(api: Api, signed: Signed) -> bool:
    def may_write(held_body: bytes | None, held_signature: str | None) -> bool:
        if held_body is not None:
            # Only to log a forgery; whether a genuine one may be replaced is the
            # database's call, below.
            _verify(api.slug, held_body, held_signature or "", source="redis (replacing it)")
        # Write only what the database still has: an older reader (the sweep, a slow
        # delivery) must not put an older policy back. Asked while Redis watches the key.
        return Api.objects.filter(pk=api.pk, version=api.version).exists()

    return store.put_document(
        api.slug,
        body=signed.body,
        etag=signed.etag,
        signature=signed.signature,
        version=signed.version,
        api_id=api.pk,
        may_write=may_write,
    )


def refresh(api: Api) -> Signed:
    """Build `api`'s document and store it in Redis (unless the database has moved on)."""
    signed = build(api)
    _store(api, signed)
    return signed


def deliver_document(*, api_id: int, slug: str) -> bool:
    """Store the API's current document and announce it; True once Redis took both."""
    api = _load(api_id)
    if api is None:
        return deliver_deleted(slug=slug)
    freshness.note(api)
    signed = build(api)
    if not _store(api, signed):
        return False
    delivered = store.publish({"api": api.slug, "version": api.version, "etag": signed.etag})
    if delivered:
        logger.info("published %s v%s %s", api.slug, api.version, signed.etag)
    return delivered


def deliver_deleted(*, slug: str) -> bool:
    if Api.objects.filter(slug=slug).exists():
        # The slug names a new API by now: its own outbox message delivers it.
        return True
    freshness.note_gone(slug)
    if not store.drop_document(slug):
        return False
    return store.publish({"api": slug, "version": None, "etag": None, "deleted": True})


def republish_all() -> int:
    """Store every current document again (after a Redis flush or outage): the net."""
    count = 0
    for api in (
        Api.objects.select_related("team").prefetch_related("origins").iterator(chunk_size=200)
    ):
        refresh(api)
        count += 1
    return count
