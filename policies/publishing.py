"""After a policy change commits: store the compiled document in Redis and announce it.

Runs in `transaction.on_commit`, in the request that made the change, so a read right after
a write sees the new version (read-your-writes). If Redis is down the change is still
committed; the endpoint serves from the database, and `republish_all` (a periodic task)
puts Redis back in step.
"""

from __future__ import annotations

import logging

from policies import store
from policies.documents import compile_document, document_bytes, etag_for
from policies.models import Api

logger = logging.getLogger(__name__)


def build(api: Api) -> tuple[bytes, str]:
    body = document_bytes(compile_document(api))
    return body, etag_for(body)


def refresh(api: Api) -> tuple[bytes, str]:
    body, etag = build(api)
    store.put_document(api.slug, body=body, etag=etag, version=api.version, api_id=api.pk)
    return body, etag


def api_changed(*, api_id: int, slug: str) -> None:
    api = Api.objects.select_related("team").prefetch_related("origins").filter(pk=api_id).first()
    if api is None:
        return
    body, etag = build(api)
    if not store.put_document(slug, body=body, etag=etag, version=api.version, api_id=api.pk):
        # A stale copy must not outlive a failed write: drop it so readers rebuild.
        store.drop_document(slug)
    store.publish({"api": slug, "version": api.version, "etag": etag})
    logger.info("published %s v%s %s", slug, api.version, etag)


def api_deleted(*, api_id: int, slug: str) -> None:
    store.drop_document(slug)
    store.publish({"api": slug, "version": None, "etag": None, "deleted": True})


def republish_all() -> int:
    """Rebuild every cached document (after a Redis flush or outage)."""
    count = 0
    for api in (
        Api.objects.select_related("team").prefetch_related("origins").iterator(chunk_size=200)
    ):
        refresh(api)
        count += 1
    return count


def document_for(slug: str) -> tuple[bytes, str] | None:
    """The current document of `slug`: from Redis, else rebuilt from the database."""
    cached = store.get_document(slug)
    if cached is not None:
        return cached
    api = Api.objects.select_related("team").prefetch_related("origins").filter(slug=slug).first()
    if api is None:
        return None
    return refresh(api)
