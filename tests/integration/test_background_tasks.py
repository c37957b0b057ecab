"""The periodic tasks beat schedules: republishing documents and pruning telemetry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from policies import publishing, services, store, tasks
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


def _as_the_sweep_reads(api: Api) -> Api:
    return Api.objects.select_related("team").prefetch_related("origins").get(pk=api.pk)


def test_republish__sweep_read_api_before_a_change__newer_document_kept(
    use_redis: redis.Redis, api: Api, actor: Actor, django_capture_on_commit_callbacks
) -> None:
    # Given the sweep has read billing (v1) from the database
    read_by_sweep = _as_the_sweep_reads(api)
    # When a change publishes v2 before the sweep writes its copy of v1
    with django_capture_on_commit_callbacks(execute=True):
        services.add_origin(actor=actor, api=api, value="https://new.example.com")
    publishing.refresh(read_by_sweep)
    # Then consumers are still served v2, not the older policy
    found = store.get_document("billing")
    assert found is not None
    assert json.loads(found[0])["version"] == 2


def test_republish__deleted_api_read_before_slug_reused__new_api_document_kept(
    use_redis: redis.Redis, api: Api, actor: Actor, django_capture_on_commit_callbacks
) -> None:
    # Given the sweep has read billing at v2, which is then deleted and created again (v1)
    api = services.update_api(actor=actor, api=api, name="Billing v2")
    read_by_sweep = _as_the_sweep_reads(api)
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_api(actor=actor, api=api)
        services.create_api(actor=actor, slug="billing", name="New billing", team=api.team)
    # When the sweep writes its copy of the deleted API
    publishing.refresh(read_by_sweep)
    # Then the new API's document is served, not the deleted one's origins
    found = store.get_document("billing")
    assert found is not None
    document = json.loads(found[0])
    assert (document["version"], document["origins"]["exact"]) == (1, [])


def test_prune_telemetry__old_rows__removed_recent_kept(api: Api) -> None:
    now = timezone.now()
    _report(api, "old", now - timedelta(days=40), "https://old.example")
    _report(api, "new", now, "https://new.example")
    assert tasks.prune_telemetry.delay().get() == (1, 1)
    assert list(RefusedOrigin.objects.values_list("origin", flat=True)) == ["https://new.example"]
    assert list(ConsumerInstance.objects.values_list("instance", flat=True)) == ["new"]
