"""The transactional outbox: what Redis must be told, written with the change, delivered
until Redis takes it.

Services call `enqueue_*` inside the transaction of a change, so the message commits or
rolls back with it. On commit the request delivers it at once (a write's next read, on any
process, sees it); whatever could not be delivered (Redis down or paused) is retried with
exponential backoff (0.25 s doubling, at most 2 s apart) by `deliver_pending`: the Celery
task queued on commit and beat's sweep every 2 s in production, `manage.py deliver_outbox
--every 1` in the embedded `./run`. Delivering is idempotent (it sends the API's current
document, whatever version the message names), so two dispatchers racing do no harm.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from policies import freshness, publishing, store
from policies.models import Api, OutboxKind, OutboxMessage

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 2.0
KEEP_DELIVERED = timedelta(days=7)


def backoff(attempts: int) -> float:
    """Seconds before retry number `attempts` (1, 2, ...): 0.25, 0.5, 1, 2, 2, ..."""
    return float(min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


def _enqueue(kind: str, **fields: object) -> OutboxMessage:
    message = OutboxMessage.objects.create(kind=kind, next_attempt_at=timezone.now(), **fields)
    if kind == OutboxKind.TOKENS:
        # This process refuses the tokens at once; the others within
        # CORSADMIN_DB_CHECK_SECONDS (policies.freshness). Set before the commit too: a
        # counter that changes only makes cached tokens be checked again, so a rollback
        # costs one look-up per token, and a request racing the commit cannot keep them.
        freshness.note_token_generation(message.pk)
        transaction.on_commit(lambda: freshness.note_token_generation(message.pk))
    transaction.on_commit(lambda: deliver_after_commit([message.pk]))
    return message


def enqueue_document(api: Api) -> OutboxMessage:
    """A new version of `api` committed with this transaction (call inside it)."""
    return _enqueue(OutboxKind.DOCUMENT, api_id=api.pk, slug=api.slug, version=api.version)


def enqueue_deleted(*, api_id: int, slug: str) -> OutboxMessage:
    return _enqueue(OutboxKind.DELETED, api_id=api_id, slug=slug)


def enqueue_tokens(digests: Sequence[str]) -> OutboxMessage:
    """Service tokens revoked (or their scope narrowed) in this transaction."""
    return _enqueue(OutboxKind.TOKENS, digests=list(digests))


def deliver_after_commit(ids: Sequence[int]) -> None:
    """Deliver what a request just committed; leave the rest to the worker's retries."""
    try:
        pending = deliver(list(OutboxMessage.objects.filter(pk__in=ids, delivered_at=None)))
    except Exception:
        # The change is committed and its message kept: a failure here must not turn a
        # successful write into an error page. The sweep delivers it.
        logger.exception("outbox: delivering on commit failed; the sweep will retry")
        pending = len(ids)
    if pending:
        _queue_retry()


def _queue_retry() -> None:
    from policies import tasks

    if tasks.deliver_outbox.app.conf.task_always_eager:
        return  # no worker: `deliver_outbox --every` (./run) retries
    try:
        # Just after the first retry is due. No broker retries: with Redis down this must
        # not hold the request; beat's sweep delivers even if this task is never queued.
        tasks.deliver_outbox.apply_async(countdown=backoff(1) + 0.05, retry=False)
    except Exception as exc:
        logger.warning("outbox: could not queue a delivery task (%s); the sweep will", exc)


def deliver_pending(*, limit: int = 500, now: datetime | None = None) -> int:
    """Deliver every message whose retry time has come; returns how many were delivered."""
    now = now or timezone.now()
    due = list(
        OutboxMessage.objects.filter(delivered_at=None, next_attempt_at__lte=now).order_by("id")[
            :limit
        ]
    )
    return len(due) - deliver(due, now=now)


def deliver(messages: Sequence[OutboxMessage], *, now: datetime | None = None) -> int:
    """Try each message once (one delivery per API however many versions wait); mark the
    delivered, reschedule the rest with backoff. Returns how many are still pending."""
    if not messages:
        return 0
    now = now or timezone.now()
    if not settings.REDIS_URL:
        # No Redis: nothing to tell (the endpoint reads the database).
        _done([m.pk for m in messages], now)
        return 0
    documents: dict[int, list[OutboxMessage]] = {}
    deleted: dict[str, list[OutboxMessage]] = {}
    tokens: list[OutboxMessage] = []
    for message in messages:
        if message.kind == OutboxKind.DOCUMENT and message.api_id is not None:
            documents.setdefault(message.api_id, []).append(message)
        elif message.kind == OutboxKind.DELETED:
            deleted.setdefault(message.slug, []).append(message)
        else:
            tokens.append(message)
    pending = 0
    for api_id, group in documents.items():
        pending += _attempt(
            group, lambda a=api_id, s=group[-1].slug: publishing.deliver_document(api_id=a, slug=s)
        )
    for slug, group in deleted.items():
        pending += _attempt(group, lambda s=slug: publishing.deliver_deleted(slug=s))
    if tokens:
        digests = sorted({d for message in tokens for d in message.digests})
        pending += _attempt(tokens, lambda: store.revoke_tokens(digests))
    return pending


def _attempt(group: list[OutboxMessage], send: object) -> int:
    assert callable(send)
    ids = [message.pk for message in group]
    try:
        delivered = bool(send())
        error = "" if delivered else "redis unavailable"
    except Exception as exc:
        logger.exception("outbox: delivering %s failed", ids)
        delivered, error = False, f"{type(exc).__name__}: {exc}"
    now = timezone.now()
    if delivered:
        _done(ids, now)
        store.mark_up()
        if any(message.attempts for message in group):
            waited = (now - min(message.created_at for message in group)).total_seconds()
            logger.info("outbox: delivered %s after %.1f s", ids, waited)
        return 0
    attempts = max(message.attempts for message in group) + 1
    OutboxMessage.objects.filter(pk__in=ids, delivered_at=None).update(
        attempts=F("attempts") + 1,
        next_attempt_at=now + timedelta(seconds=backoff(attempts)),
        last_error=error[:500],
    )
    return len(group)


def _done(ids: list[int], now: datetime) -> None:
    OutboxMessage.objects.filter(pk__in=ids, delivered_at=None).update(delivered_at=now)


def prune_delivered(*, now: datetime | None = None) -> int:
    """Forget messages delivered more than a week ago, except the newest `tokens` message
    (its id is the revocation counter)."""
    now = now or timezone.now()
    newest_tokens = OutboxMessage.objects.filter(kind=OutboxKind.TOKENS).aggregate(n=Max("id"))
    removed, _ = (
        OutboxMessage.objects.filter(delivered_at__lt=now - KEEP_DELIVERED)
        .exclude(pk=newest_tokens["n"] or 0)
        .delete()
    )
    return int(removed)
