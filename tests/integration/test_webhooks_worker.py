"""Webhooks end to end: a real Celery worker (real Redis broker) delivers to a real HTTP
receiver on 127.0.0.1, and the receiver verifies with the stock `standardwebhooks` library."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ObjectDoesNotExist
from django.db import OperationalError
from django.test import Client
from standardwebhooks.webhooks import Webhook

from corsadmin.celery import app
from policies import services
from policies.actors import Actor
from policies.models import Api, AuditEvent
from tests.receiver import Receiver, running
from webhooks import services as webhooks
from webhooks import tasks
from webhooks.models import Attempt, Delivery, Subscription

pytestmark = pytest.mark.django_db(transaction=True)
T = TypeVar("T")


def _forget_connections() -> None:
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def worker(redis_url: str, redis_client: Any) -> Iterator[None]:
    # As tests/integration/test_celery_worker.py: a real worker thread on the test Redis,
    # whose broker queue `redis_client` emptied (no leftovers of an earlier test).
    from celery.contrib.testing.worker import start_worker

    previous = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    previous_backend = app.backend
    app.conf.update(task_always_eager=False, broker_url=redis_url, result_backend=redis_url)
    _forget_connections()
    app._backend = app._get_backend()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.update(previous)
        _forget_connections()
        app._backend = previous_backend


@pytest.fixture
def local_receivers(settings: Any) -> None:
    # The receiver listens on loopback, which production refuses.
    settings.CORSADMIN_WEBHOOKS_ALLOW_PRIVATE = True
    settings.CORSADMIN_WEBHOOKS_RETRY_BASE_SECONDS = 0.2


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running() as server:
        yield server


def _subscribe(actor: Actor, team: Group, url: str, events: list[str]) -> tuple[Subscription, str]:
    return webhooks.create_subscription(
        actor=actor, name="ops", url=url, team=team, event_types=events
    )


def _eventually(check: Callable[[], T], timeout: float = 30) -> T:
    """Bounded poll until `check` returns without an AssertionError. SQLite's shared
    in-memory test database answers "table is locked" (instead of waiting, as PostgreSQL
    and a file database do) while the worker thread writes: that is retried too."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, ObjectDoesNotExist, OperationalError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _wait_delivery(subscription: Subscription, status: str) -> Delivery:
    def check() -> Delivery:
        delivery = Delivery.objects.get(subscription=subscription)
        assert delivery.status == status, f"delivery {delivery.pk} is {delivery.status}"
        return delivery

    return _eventually(check)


def test_policy_published__worker_delivers__verifies_with_standardwebhooks(
    worker: None, local_receivers: None, receiver: Receiver, api: Api, actor: Actor, team: Group
) -> None:
    # Given a team subscription to policy.published at a real local receiver
    subscription, secret = _subscribe(actor, team, receiver.url, ["policy.published"])
    # When a team member adds an origin (a new version is published)
    services.add_origin(
        actor=actor, api=api, value="https://new.example.com", comment="launch partner"
    )
    # Then the worker posts it, and the stock library verifies the signature
    [request] = receiver.wait_count(1)
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "policy.published"
    data = payload["data"]
    assert (data["api"]["slug"], data["version"], data["actor"], data["reason"]) == (
        "billing",
        2,
        "mia",
        "launch partner",
    )
    [change] = data["diff"]
    assert (change["field"], change["removed"]) == ("origins", [])
    assert [(rule["kind"], rule["value"]) for rule in change["added"]] == [
        ("exact", "https://new.example.com")
    ]
    assert request.headers["webhook-id"].startswith("msg_")
    # And the attempt is logged with its status code and duration
    delivery = _wait_delivery(subscription, "delivered")
    [attempt] = Attempt.objects.filter(delivery=delivery)
    assert (attempt.ok, attempt.status_code, attempt.number) == (True, 200, 1)
    assert attempt.duration_ms >= 0


def test_failing_receiver__fails_twice__third_attempt_delivers_with_backoff(
    worker: None, local_receivers: None, api: Api, actor: Actor, team: Group
) -> None:
    # Given a receiver that answers 500, then 503, then 200
    with running(statuses=[500, 503]) as receiver:
        subscription, secret = _subscribe(actor, team, receiver.url, ["token.issued"])
        # When an event is emitted (a token is issued)
        services.issue_service_token(actor=actor, name="web", apis=[api])
        # Then the third attempt arrives, with the same message id, and verifies
        requests = receiver.wait_count(3)
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert Webhook(secret).verify(requests[2].body, requests[2].headers)["type"] == "token.issued"
    # And the waits grew (base 0.2 s, then 0.4 s)
    first_wait = requests[1].at - requests[0].at
    second_wait = requests[2].at - requests[1].at
    assert first_wait >= 0.2
    assert second_wait >= 0.4
    delivery = _wait_delivery(subscription, "delivered")
    attempts = list(Attempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.ok, a.status_code) for a in attempts] == [
        (1, False, 500),
        (2, False, 503),
        (3, True, 200),
    ]
    assert attempts[0].error == "HTTP 500"
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


def test_receiver_keeps_failing__disable_after_reached__subscription_disabled_and_audited(
    worker: None, local_receivers: None, settings: Any, api: Api, actor: Actor, team: Group
) -> None:
    # Given a subscription is disabled after 3 failed attempts in a row
    settings.CORSADMIN_WEBHOOKS_DISABLE_AFTER = 3
    with running(statuses=[500] * 10) as receiver:
        subscription, _ = _subscribe(actor, team, receiver.url, ["policy.published"])
        # When its receiver keeps failing
        services.update_api(actor=actor, api=api, max_age=900)
        receiver.wait_count(3)

        def disabled() -> None:
            assert not Subscription.objects.get(pk=subscription.pk).enabled

        _eventually(disabled)
        time.sleep(1)  # would a fourth attempt come? (it would be due 0.8 s after the third)
        count = len(receiver.requests)
    # Then it was disabled after the third, with a notice in the audit chain, and stopped
    assert count == 3
    subscription.refresh_from_db()
    assert "3 failed attempts in a row" in subscription.disabled_reason
    event = AuditEvent.objects.filter(action="webhook.disabled").get()
    assert (event.actor_name, event.object_id) == ("webhooks", str(subscription.pk))
    assert Delivery.objects.get(subscription=subscription).status == "cancelled"


def test_redeliver__delivered_event__sent_again_with_same_id(
    worker: None, local_receivers: None, receiver: Receiver, api: Api, actor: Actor, team: Group
) -> None:
    # Given a delivered event
    subscription, secret = _subscribe(actor, team, receiver.url, ["policy.published"])
    services.update_api(actor=actor, api=api, max_age=900)
    [first] = receiver.wait_count(1)
    delivery = _wait_delivery(subscription, "delivered")
    # When someone redelivers it
    webhooks.redeliver(actor=actor, delivery=delivery, comment="receiver lost it")
    # Then it arrives again, same message id, newly signed
    second = receiver.wait_count(2)[1]
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert Webhook(secret).verify(second.body, second.headers)["type"] == "policy.published"


def test_stale_consumer__reported_stale__consumer_stale_event_delivered(
    worker: None,
    local_receivers: None,
    settings: Any,
    receiver: Receiver,
    api: Api,
    actor: Actor,
    team: Group,
) -> None:
    # Given a subscription to consumer.stale (threshold 0 s) and a consumer that reports,
    # over the real report endpoint, that its copy is stale
    settings.CORSADMIN_WEBHOOKS_STALE_AFTER_SECONDS = 0
    _subscription, secret = _subscribe(actor, team, receiver.url, ["consumer.stale"])
    _, token = services.issue_service_token(actor=actor, name="web", apis=[api])
    report = {
        "instance": "web-1",
        "service": "billing-web",
        "heartbeat": [
            {"api": "billing", "version": 1, "stale": True, "last_error": "central unreachable"}
        ],
    }
    response = Client().post(
        "/api/v1/reports",
        data=json.dumps(report),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in (200, 202, 204), response.content
    # When beat queues the check and the worker runs it
    announced = tasks.check_stale_consumers.delay().get(timeout=20)
    # Then the event arrives once, saying which consumer and why
    assert announced == 1
    [request] = receiver.wait_count(1)
    data = Webhook(secret).verify(request.body, request.headers)["data"]
    assert data["consumer"]["instance"] == "web-1"
    assert "stale" in data["why"]
    assert "central unreachable" in data["why"]
    # And the next run does not announce the same spell again
    assert tasks.check_stale_consumers.delay().get(timeout=20) == 0


def test_refused_spike__new_origin_refused_often__spike_event_delivered(
    worker: None,
    local_receivers: None,
    settings: Any,
    receiver: Receiver,
    api: Api,
    actor: Actor,
    team: Group,
) -> None:
    # Given a spike threshold of 50 refusals per hour and a subscription to spikes
    settings.CORSADMIN_WEBHOOKS_SPIKE_THRESHOLD = 50
    _subscription, secret = _subscribe(actor, team, receiver.url, ["origin.refused_spike"])
    _, token = services.issue_service_token(actor=actor, name="web", apis=[api])
    # When consumers report a new origin refused 30 + 40 times, and one refused 10 times
    for count in (30, 40):
        refused = [
            {
                "api": "billing",
                "origin": "https://evil.example",
                "reason": "origin-not-allowed",
                "count": count,
            },
            {
                "api": "billing",
                "origin": "https://rare.example",
                "reason": "origin-not-allowed",
                "count": 5,
            },
        ]
        response = Client().post(
            "/api/v1/reports",
            data=json.dumps({"instance": "web-1", "refused": refused}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code in (200, 202, 204), response.content
    announced = tasks.check_refused_spikes.delay().get(timeout=20)
    # Then one spike is announced: the origin above the threshold, with its count
    assert announced == 1
    [request] = receiver.wait_count(1)
    data = Webhook(secret).verify(request.body, request.headers)["data"]
    assert (data["origin"], data["count"], data["api"]["slug"]) == (
        "https://evil.example",
        70,
        "billing",
    )
    # And not again on the next run
    assert tasks.check_refused_spikes.delay().get(timeout=20) == 0


def test_loopback_url__private_not_allowed__refused_on_save_and_on_send(
    worker: None,
    settings: Any,
    receiver: Receiver,
    api: Api,
    actor: Actor,
    team: Group,
    member: User,
) -> None:
    # Given private addresses are not allowed (the default)
    settings.CORSADMIN_WEBHOOKS_ALLOW_PRIVATE = False
    # When a subscription to the loopback receiver is created
    with pytest.raises(services.ValidationFailed) as refused:
        _subscribe(actor, team, receiver.url, ["policy.published"])
    # Then it is refused, saying why
    assert "loopback" in refused.value.errors["url"][0]
    # And a subscription saved while it was allowed is refused at send time, nothing sent
    settings.CORSADMIN_WEBHOOKS_ALLOW_PRIVATE = True
    subscription, _ = _subscribe(actor, team, receiver.url, ["policy.published"])
    settings.CORSADMIN_WEBHOOKS_ALLOW_PRIVATE = False
    services.update_api(actor=actor, api=api, max_age=900)
    attempt = _eventually(lambda: Attempt.objects.get(delivery__subscription=subscription))
    assert attempt.status_code is None
    assert attempt.error.startswith("refused:")
    assert "loopback" in attempt.error
    assert receiver.requests == []
