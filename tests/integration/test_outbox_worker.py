"""The outbox under a real Celery worker on a real Redis broker: a delivery that failed on
commit is queued to the worker, which delivers it once Redis is back."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from policies import services, store
from policies.actors import Actor
from policies.models import Api, OutboxKind, OutboxMessage
from tests.integration.test_celery_worker import worker  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_outbox__redis_down_at_commit__worker_task_delivers_after(
    worker: None,  # noqa: F811
    settings: Any,
    redis_client: redis.Redis,
    api: Api,
    actor: Actor,
) -> None:
    # Given central's Redis is unreachable when an origin is removed (the broker is up)
    kwargs = redis_client.connection_pool.connection_kwargs
    url = f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    services.remove_origin(actor=actor, rule=api.origins.get(), comment="gone")
    message = OutboxMessage.objects.get(kind=OutboxKind.DOCUMENT, version=2)
    assert message.delivered_at is None
    # When Redis is back (and nothing but the task queued on commit runs)
    settings.REDIS_URL = url
    # Then the worker delivers it and marks it done
    for _ in range(200):
        message.refresh_from_db()
        if message.delivered_at is not None:
            break
        time.sleep(0.05)
    assert message.delivered_at is not None
    held = store.get_document("billing")
    assert held is not None
    assert json.loads(held[0])["version"] == 2
