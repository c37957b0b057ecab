"""The Django admin writes through the services: one audit event per write; history read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from policies.models import Api, AuditEvent, OriginRule, PolicyVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db: None) -> Client:
    user = User.objects.create_superuser("root", "root@example.com", "pw-root-12345")
    client = Client()
    client.force_login(user)
    return client


def _api_form(team: Group, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "orders",
        "team": str(team.pk),
        "name": "Orders",
        "description": "",
        "environment": "staging",
        "mode": "enforce",
        "paths": "",
        "methods": ["GET", "POST"],
        "request_headers": "content-type",
        "expose_headers": "",
        "max_age": "600",
        "comment": "from the admin",
        "origins-TOTAL_FORMS": "0",
        "origins-INITIAL_FORMS": "0",
        "origins-MIN_NUM_FORMS": "0",
        "origins-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def _events() -> list[tuple[str, str, str]]:
    return [(e.action, e.actor_name, e.comment) for e in AuditEvent.objects.order_by("sequence")]


def test_admin_api__add_change_delete__one_event_each(admin_client: Client, team: Group) -> None:
    # When an API is added in the admin
    response = admin_client.post(reverse("admin:policies_api_add"), _api_form(team))
    assert response.status_code == 302, response.content.decode()[:2000]
    api = Api.objects.get(slug="orders")
    assert _events() == [("api.created", "root", "from the admin")]
    assert api.methods == ["GET", "POST"]
    # When it is changed
    data = _api_form(team, max_age="60", comment="shorter")
    data.pop("slug")
    response = admin_client.post(reverse("admin:policies_api_change", args=[api.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    api.refresh_from_db()
    assert (api.max_age, api.version) == (60, 2)
    assert _events()[-1] == ("api.updated", "root", "shorter")
    # When it is deleted
    response = admin_client.post(
        reverse("admin:policies_api_delete", args=[api.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Api.objects.filter(slug="orders").exists()
    assert [e[0] for e in _events()] == ["api.created", "api.updated", "api.deleted"]


def test_admin_api__lint_error__shown_on_form_nothing_written(
    admin_client: Client, team: Group
) -> None:
    data = _api_form(team, allow_all="on", allow_credentials="on")
    response = admin_client.post(reverse("admin:policies_api_add"), data)
    assert response.status_code == 200
    assert "cookies" in response.content.decode()
    assert not Api.objects.exists()
    assert not AuditEvent.objects.exists()


def test_admin_origin__add_change_delete__one_event_each(admin_client: Client, api: Api) -> None:
    before = AuditEvent.objects.count()
    response = admin_client.post(
        reverse("admin:policies_originrule_add"),
        {
            "api": str(api.pk),
            "kind": "exact",
            "value": "HTTPS://B.example.com:443",
            "note": "",
            "enabled": "on",
            "comment": "partner",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = OriginRule.objects.get(value="https://b.example.com")
    response = admin_client.post(
        reverse("admin:policies_originrule_change", args=[rule.pk]),
        {"kind": "exact", "value": "https://b.example.com", "note": "B", "comment": "off"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert (rule.note, rule.enabled) == ("B", False)
    response = admin_client.post(
        reverse("admin:policies_originrule_delete", args=[rule.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    events = list(AuditEvent.objects.order_by("sequence"))[before:]
    assert [(e.action, e.comment) for e in events] == [
        ("origin.added", "partner"),
        ("origin.changed", "off"),
        ("origin.removed", "removed in the Django admin"),
    ]
    api.refresh_from_db()
    assert api.version == 4


def test_admin_origin__path_in_origin__error_on_value(admin_client: Client, api: Api) -> None:
    response = admin_client.post(
        reverse("admin:policies_originrule_add"),
        {"api": str(api.pk), "kind": "exact", "value": "https://example.com/path", "enabled": "on"},
    )
    assert response.status_code == 200
    assert "origins have no path" in response.content.decode()
    assert OriginRule.objects.count() == 1


def test_admin_history_and_audit__read_only(admin_client: Client, api: Api) -> None:
    version = PolicyVersion.objects.get(api=api)
    event = AuditEvent.objects.get()
    assert admin_client.get(reverse("admin:policies_policyversion_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:policies_auditevent_changelist")).status_code == 200
    view = admin_client.get(reverse("admin:policies_auditevent_change", args=[event.pk]))
    assert view.status_code == 200
    assert 'type="submit"' not in view.content.decode().split('id="content-main"')[1]
    assert admin_client.get(reverse("admin:policies_auditevent_add")).status_code == 403
    assert admin_client.get(reverse("admin:policies_policyversion_add")).status_code == 403
    deleted = admin_client.post(
        reverse("admin:policies_auditevent_delete", args=[event.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 403
    deleted = admin_client.post(
        reverse("admin:policies_policyversion_delete", args=[version.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 403
    assert AuditEvent.objects.count() == 1


def test_admin__staff_non_superuser__no_policies_models(member: User) -> None:
    member.is_staff = True
    member.save()
    client = Client()
    client.force_login(member)
    assert client.get(reverse("admin:policies_api_changelist")).status_code == 403
