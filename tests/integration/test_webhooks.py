"""Webhook subscriptions through the REST API and the dashboard: permissions, audit, secret
shown once, events recorded in the change's transaction (and not for a rolled-back one)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.test import Client
from standardwebhooks.webhooks import Webhook

from policies import audit, services
from policies.actors import Actor
from policies.models import Api, AuditEvent
from webhooks import secrets
from webhooks import services as webhooks
from webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/corsadmin"


@pytest.fixture
def bearer(member: User) -> dict[str, str]:
    _, secret = services.issue_access_token(actor=Actor.system("tests"), user=member, name="t")
    return {"Authorization": f"Bearer {secret}"}


def _post(client: Client, url: str, body: Any, headers: dict[str, str]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def _subscription(actor: Actor, team: Group | None, **extra: Any) -> tuple[Subscription, str]:
    return webhooks.create_subscription(
        actor=actor,
        name="ops",
        url=URL,
        team=team,
        event_types=extra.pop("event_types", ["policy.published"]),
        **extra,
    )


def test_rest_create__team_member__201_secret_once_and_audited(
    client: Client, bearer: dict[str, str], team: Group
) -> None:
    # When a team member subscribes their team to published policies
    response = _post(
        client,
        "/api/v1/webhooks/",
        {
            "name": "ops",
            "url": URL,
            "team": "payments",
            "event_types": ["policy.published"],
            "comment": "for the on-call channel",
        },
        bearer,
    )
    # Then it is created and the secret is in that response only
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert response["Cache-Control"] == "no-store"
    assert body["secret_prefix"] == body["secret"][:10]
    again = client.get(f"/api/v1/webhooks/{body['id']}/", headers=bearer).json()
    assert "secret" not in again
    assert again["team"] == "payments"
    # And the secret is stored encrypted, not as it was shown
    stored = Subscription.objects.get(pk=body["id"])
    assert body["secret"] not in stored.secret_encrypted
    assert secrets.decrypt(stored.secret_encrypted) == body["secret"]
    # And the change is in the audit chain, with why, without the secret
    event = AuditEvent.objects.filter(action="webhook.created").get()
    assert (event.actor_name, event.comment) == (
        "mia (token " + event.actor_name[11:],
        "for the on-call channel",
    )
    assert body["secret"] not in json.dumps(event.after)
    assert audit.verify_chain()[1] is None


def test_rest_create__loopback_url__400_naming_url(
    client: Client, bearer: dict[str, str], team: Group
) -> None:
    # When a subscription to a loopback address is posted (not allowed by default)
    response = _post(
        client,
        "/api/v1/webhooks/",
        {
            "name": "x",
            "url": "http://127.0.0.1:9000/",
            "team": "payments",
            "event_types": ["policy.published"],
        },
        bearer,
    )
    # Then it is refused, saying why, and nothing is saved
    assert response.status_code == 400
    assert "loopback" in response.json()["url"][0]
    assert not Subscription.objects.exists()


def test_rest_create__global_by_member__400_and_other_team_400(
    client: Client, bearer: dict[str, str], team: Group, other_team: Group
) -> None:
    # When a team member asks for a global subscription, or one for another team
    base = {"name": "x", "url": URL, "event_types": ["policy.published"]}
    global_ = _post(client, "/api/v1/webhooks/", {**base, "team": None}, bearer)
    other = _post(client, "/api/v1/webhooks/", {**base, "team": "search"}, bearer)
    # Then both are refused
    assert global_.status_code == 400
    assert other.status_code == 400
    assert not Subscription.objects.exists()


def test_rest_read__other_team__404_and_read_only__403_on_write(
    client: Client, actor: Actor, team: Group, outsider: User, read_only_client: Client
) -> None:
    # Given the payments team's subscription
    subscription, _ = _subscription(actor, team)
    # When someone of another team reads it / Then it does not exist for them
    _, token = services.issue_access_token(actor=Actor.system("t"), user=outsider, name="t")
    outsider_headers = {"Authorization": f"Bearer {token}"}
    assert (
        client.get(f"/api/v1/webhooks/{subscription.pk}/", headers=outsider_headers).status_code
        == 404
    )
    assert client.get("/api/v1/webhooks/", headers=outsider_headers).json()["count"] == 0
    # And a read-only member sees it but may not change it
    assert read_only_client.get(f"/api/v1/webhooks/{subscription.pk}/").status_code == 200
    response = read_only_client.patch(
        f"/api/v1/webhooks/{subscription.pk}/",
        data={"enabled": False},
        content_type="application/json",
    )
    assert response.status_code == 403


def test_rest_update_rotate_delete__member__each_audited(
    client: Client, bearer: dict[str, str], actor: Actor, team: Group
) -> None:
    # Given a subscription
    subscription, old_secret = _subscription(actor, team)
    base = f"/api/v1/webhooks/{subscription.pk}/"
    # When it is changed, its secret rotated, then it is deleted
    patched = client.patch(
        base,
        data={"event_types": ["token.issued", "token.revoked"]},
        content_type="application/json",
        headers=bearer,
    )
    rotated = _post(client, f"{base}rotate-secret", {"comment": "leaked"}, bearer)
    deleted = client.delete(f"{base}?comment=not+needed", headers=bearer)
    # Then each worked and each is one audit event, in order
    assert patched.status_code == 200
    assert patched.json()["event_types"] == ["token.issued", "token.revoked"]
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != old_secret
    assert deleted.status_code == 204
    assert not Subscription.objects.exists()
    actions = list(
        AuditEvent.objects.filter(object_type="webhook")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == [
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.deleted",
    ]


def test_rest_create__unknown_event_type__400(
    client: Client, bearer: dict[str, str], team: Group
) -> None:
    response = _post(
        client,
        "/api/v1/webhooks/",
        {"name": "x", "url": URL, "team": "payments", "event_types": ["policy.exploded"]},
        bearer,
    )
    assert response.status_code == 400
    assert "event_types" in json.dumps(response.json())


def test_rotate__keep_previous__both_secrets_verify(actor: Actor, team: Group, api: Api) -> None:
    # Given a subscription whose secret is rotated with a day's overlap
    from datetime import timedelta

    from django.utils import timezone

    subscription, old = _subscription(actor, team)
    new = webhooks.rotate_secret(
        actor=actor, subscription=subscription, keep_previous_for=timedelta(hours=24)
    )
    subscription.refresh_from_db()
    # When a delivery is signed
    delivery = Delivery(
        subscription=subscription,
        event_id="msg_1",
        event_type="policy.published",
        payload={"x": 1},
        occurred_at=timezone.now(),
        give_up_at=timezone.now(),
    )
    prepared = webhooks.prepare(subscription, delivery, timezone.now())
    # Then receivers with the old or the new secret both verify it
    assert Webhook(old).verify(prepared.body, prepared.headers)["data"] == {"x": 1}
    assert Webhook(new).verify(prepared.body, prepared.headers)["data"] == {"x": 1}


def test_emit__change_rolled_back__no_delivery(actor: Actor, team: Group, api: Api) -> None:
    # Given a subscription to published policies
    _subscription(actor, team)
    # When a change fails after its event was recorded (its transaction rolls back)
    recorded = []

    def change_then_fail() -> None:
        with transaction.atomic():
            services.update_api(actor=actor, api=api, max_age=900)
            recorded.append(Delivery.objects.count())
            raise RuntimeError("something after the change failed")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert recorded == [1]
    # Then no delivery is left: nothing is announced for a change that did not happen
    assert Delivery.objects.count() == 0


def test_emit__committed_change__delivery_recorded_and_queued_on_commit(
    actor: Actor, team: Group, other_team: Group, api: Api, django_capture_on_commit_callbacks: Any
) -> None:
    # Given a subscription of the API's team, one of another team, and a disabled one
    mine, _ = _subscription(actor, team)
    superuser = User.objects.create_superuser("root", password="pw-root-12345")
    theirs, _ = _subscription(Actor.for_user(superuser), other_team)
    off, _ = _subscription(actor, team, enabled=False)
    # When a change commits
    with django_capture_on_commit_callbacks() as callbacks:
        services.update_api(actor=actor, api=api, max_age=900, comment="longer cache")
    # Then only the team's enabled subscription has a delivery, queued after commit
    [delivery] = Delivery.objects.all()
    assert delivery.subscription_id == mine.pk
    assert (delivery.event_type, delivery.payload["reason"], delivery.status) == (
        "policy.published",
        "longer cache",
        "pending",
    )
    assert delivery.payload["diff"] == [{"field": "max_age", "before": 600, "after": 900}]
    assert len(callbacks) >= 1
    assert theirs.pk != off.pk


def test_dashboard__create_subscription__secret_shown_once_no_inline_script(
    member_client: Client, team: Group
) -> None:
    # When a member creates a subscription in the dashboard
    response = member_client.post(
        "/webhooks/",
        {
            "name": "ops",
            "url": URL,
            "team": str(team.pk),
            "format": "slack",
            "event_types": ["policy.published", "token.issued"],
            "enabled": "on",
            "comment": "why",
        },
    )
    # Then the page shows the secret once, with no inline script or style
    assert response.status_code == 200
    html = response.content.decode()
    subscription = Subscription.objects.get()
    secret = secrets.decrypt(subscription.secret_encrypted)
    assert secret in html
    assert "<script>" not in html
    assert " style=" not in html
    assert " onclick=" not in html
    assert "no-store" in response["Cache-Control"]
    # And the next page does not show it
    assert secret not in member_client.get("/webhooks/").content.decode()
    assert secret not in member_client.get(f"/webhooks/{subscription.pk}/").content.decode()


def test_dashboard__disabled_subscription__banner_for_its_team(
    member_client: Client, outsider_client: Client, actor: Actor, team: Group
) -> None:
    # Given a subscription the worker disabled after repeated failures
    subscription, _ = _subscription(actor, team)
    subscription.consecutive_failures = 50
    with transaction.atomic():
        webhooks._disable(subscription, last_error="HTTP 500")
    # When its team's members open any page / Then they see the notice; others do not
    page = member_client.get("/").content.decode()
    assert "webhook-notices" in page
    assert "50 failed attempts in a row" in page
    assert "webhook-notices" not in outsider_client.get("/").content.decode()
    # And the disabling is in the audit log its team can read
    audit_page = member_client.get("/audit/").content.decode()
    assert "webhook.disabled" in audit_page or "Webhook disabled" in audit_page


def test_dashboard__redeliver_button__delivery_pending_again(
    member_client: Client, actor: Actor, team: Group, api: Api
) -> None:
    # Given a failed delivery
    subscription, _ = _subscription(actor, team)
    services.update_api(actor=actor, api=api, max_age=900)
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", next_attempt_at=None)
    # When a member presses "Redeliver"
    response = member_client.post(
        f"/webhooks/{subscription.pk}/deliveries/{delivery.pk}/redeliver/"
    )
    # Then it is pending again, due now, and the resend is audited
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert AuditEvent.objects.filter(action="webhook.redelivered").count() == 1


def test_verify_audit_task__altered_event__audit_verify_failed_for_global_only(
    actor: Actor, team: Group, api: Api
) -> None:
    # Given a global subscription and a team subscription, both wanting audit news
    superuser = User.objects.create_superuser("root", password="pw-root-12345")
    root = Actor.for_user(superuser)
    global_, _ = _subscription(root, None, event_types=["audit.verify_failed"])
    # (a team cannot choose it: the chain is not one team's business)
    with pytest.raises(services.ValidationFailed):
        _subscription(actor, team, event_types=["audit.verify_failed"])
    # When an event is altered behind the application's back and the check runs
    from tests.integration.test_audit import _tamper
    from webhooks import tasks

    first = AuditEvent.objects.order_by("sequence").first()
    assert first is not None
    _tamper(f"UPDATE policies_auditevent SET comment = 'x' WHERE sequence = {first.sequence}", [])
    result = tasks.verify_audit.delay().get()
    # Then the break is reported and recorded for the global subscription
    assert result["problem"]["sequence"] == first.sequence
    [delivery] = Delivery.objects.filter(event_type="audit.verify_failed")
    assert delivery.subscription_id == global_.pk
    assert "altered" in delivery.payload["problem"]


def test_prune_deliveries__old_finished__removed_pending_kept(
    actor: Actor, team: Group, api: Api
) -> None:
    # Given an old delivered delivery, an old pending one and a recent delivered one
    from datetime import timedelta

    from django.utils import timezone

    _subscription(actor, team)
    for _ in range(3):
        services.update_api(actor=actor, api=api, max_age=api.max_age + 1)
        api.refresh_from_db()
    old_done, old_pending, recent = Delivery.objects.order_by("pk")
    long_ago = timezone.now() - timedelta(days=31)
    Delivery.objects.filter(pk=old_done.pk).update(created_at=long_ago, status="delivered")
    Delivery.objects.filter(pk=old_pending.pk).update(created_at=long_ago)
    Delivery.objects.filter(pk=recent.pk).update(status="delivered")
    # When old deliveries are pruned
    removed = webhooks.prune_deliveries()
    # Then only the old finished one is gone
    assert removed == 1
    assert set(Delivery.objects.values_list("pk", flat=True)) == {old_pending.pk, recent.pk}
