"""Background work on a real Celery worker consuming from a real Redis broker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from corsadmin.celery import app
from policies import services, tasks
from policies.actors import Actor
from policies.models import Api, AuditEvent, OriginRule

pytestmark = pytest.mark.django_db(transaction=True)


def _forget_connections() -> None:
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def worker(redis_url: str) -> Iterator[None]:
    previous = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    previous_backend = app.backend
    app.conf.update(task_always_eager=False, broker_url=redis_url, result_backend=redis_url)
    # The app caches its result backend and its producer connections on first use (eager
    # tasks in this process may have made them): rebuild them from the new settings.
    _forget_connections()
    app._backend = app._get_backend()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.update(previous)
        _forget_connections()
        app._backend = previous_backend


def test_expire_origins__queued_to_worker__rule_removed_and_audited(
    worker: None, api: Api, actor: Actor
) -> None:
    # Given a preview origin whose allowance has already run out
    rule = services.add_origin(
        actor=actor,
        api=api,
        value="https://pr-7.preview.example.com",
        expires_at=timezone.now() + timedelta(milliseconds=300),
    )
    time.sleep(0.35)
    # When the scheduled task is queued (as beat does) and a real worker runs it
    removed = tasks.expire_origins.delay().get(timeout=20)
    # Then the worker removed it, recorded as the system, in the chain
    assert removed == 1
    assert not OriginRule.objects.filter(pk=rule.pk).exists()
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event is not None
    assert (event.action, event.actor_type, event.actor_name) == (
        "origin.expired",
        "system",
        "expiry",
    )
