"""The periodic tasks beat schedules: republishing documents and pruning telemetry."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from policies import services, store, tasks
from policies.actors import Actor
from policies.models import Api, ConsumerInstance, RefusedOrigin

pytestmark = pytest.mark.django_db


def _report(api: Api, instance: str, when, origin: str) -> None:  # type: ignore[no-untyped-def]
    token, _ = services.issue_service_token(actor=Actor.system("t"), name=instance, apis=[api])
    services.record_consumer_report(
        token_id=token.pk,
        token_name=token.name,
        apis=frozenset({api.slug}),
        payload={
            "instance": instance,
            "service": "web",
            "heartbeat": [
                {
                    "api": api.slug,
                    "version": 1,
                    "etag": '"e"',
                    "mode": "enforce",
                    "age": 1.0,
                    "stale": False,
                    "source": "central",
                    "last_error": None,
                }
            ],
            "refused": [
                {
                    "api": api.slug,
                    "origin": origin,
                    "reason": "origin-not-allowed",
                    "count": 3,
                    "sample": "refused",
                }
            ],
            "dropped": 0,
        },
        now=when,
    )


def test_republish_all__redis_flushed__every_document_back(
    use_redis: redis.Redis, api: Api, actor: Actor
) -> None:
    # Given a second API and a Redis that lost everything
    services.create_api(actor=actor, slug="search", name="Search", team=api.team)
    use_redis.flushdb()
    # When the sweep runs
    assert tasks.republish_all.delay().get() == 2
    # Then both documents are served from Redis again
    assert store.get_document("billing") is not None
    assert store.get_document("search") is not None


def test_prune_telemetry__old_rows__removed_recent_kept(api: Api) -> None:
    now = timezone.now()
    _report(api, "old", now - timedelta(days=40), "https://old.example")
    _report(api, "new", now, "https://new.example")
    assert tasks.prune_telemetry.delay().get() == (1, 1)
    assert list(RefusedOrigin.objects.values_list("origin", flat=True)) == ["https://new.example"]
    assert list(ConsumerInstance.objects.values_list("instance", flat=True)) == ["new"]
