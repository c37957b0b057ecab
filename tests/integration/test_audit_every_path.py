"""Every way to change data leaves exactly one audit event, naming who did what.

The table lists each surface: the dashboard, the Django admin, the management API (session
and personal token), management commands, Celery tasks, rollback and token operations. Each
row performs one change through that surface alone; the test asserts that exactly one event
was written and that it names the right action and actor.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from policies import services, tasks
from policies.actors import Actor
from policies.audit import verify_chain
from policies.models import AccessToken, Api, AuditEvent, ServiceToken

pytestmark = pytest.mark.django_db


@dataclass
class World:
    api: Api
    member: User
    member_client: Client
    admin_client: Client
    personal_token: str
    tmp_path: Path

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.personal_token}"}


@pytest.fixture
def world(api: Api, member: User, team: Group, tmp_path: Path) -> World:
    member_client = Client()
    member_client.force_login(member)
    admin = User.objects.create_superuser("root", password="pw-root-12345")
    admin_client = Client()
    admin_client.force_login(admin)
    _, secret = services.issue_access_token(actor=Actor.system("tests"), user=member, name="ci")
    return World(api, member, member_client, admin_client, secret, tmp_path)


def _ok(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status < 400, (status, getattr(response, "content", b"")[:500])


def dashboard_add_origin(w: World) -> None:
    _ok(
        w.member_client.post(
            reverse("dashboard:origin-add", args=[w.api.slug]),
            {
                "add-kind": "exact",
                "add-value": "https://dash.example.com",
                "add-note": "",
                "add-expires_in": "",
                "add-expires_at": "",
                "add-comment": "via dashboard",
                "add-expected_version": str(w.api.version),
            },
        )
    )


def make_version_two(w: World) -> None:
    services.update_api(actor=Actor.system("setup"), api=w.api, max_age=60)


def dashboard_rollback(w: World) -> None:
    _ok(
        w.member_client.post(
            reverse("dashboard:api-rollback", args=[w.api.slug, 1]),
            {"expected_version": "2", "comment": "back"},
        )
    )


def admin_change_origin(w: World) -> None:
    rule = w.api.origins.get()
    _ok(
        w.admin_client.post(
            reverse("admin:policies_originrule_change", args=[rule.pk]),
            {"kind": "exact", "value": rule.value, "note": "from admin", "enabled": "on"},
        )
    )


def api_session_update(w: World) -> None:
    _ok(
        w.member_client.patch(
            f"/api/v1/apis/{w.api.slug}/", {"max_age": 120}, content_type="application/json"
        )
    )


def api_token_add_origin(w: World) -> None:
    _ok(
        Client().post(
            f"/api/v1/apis/{w.api.slug}/origins/",
            {"kind": "exact", "value": "https://script.example.com"},
            content_type="application/json",
            headers=w.bearer(),
        )
    )


def api_token_rollback(w: World) -> None:
    _ok(
        Client().post(
            f"/api/v1/apis/{w.api.slug}/versions/1/rollback",
            {},
            content_type="application/json",
            headers=w.bearer(),
        )
    )


def api_issue_service_token(w: World) -> None:
    _ok(
        Client().post(
            f"/api/v1/apis/{w.api.slug}/tokens/",
            {"name": "web"},
            content_type="application/json",
            headers=w.bearer(),
        )
    )


def make_service_token(w: World) -> None:
    services.issue_service_token(actor=Actor.system("setup"), name="x", apis=[w.api])


def api_revoke_service_token(w: World) -> None:
    token = ServiceToken.objects.get(name="x")
    _ok(Client().delete(f"/api/v1/tokens/{token.pk}/", headers=w.bearer()))
    assert ServiceToken.objects.get(pk=token.pk).revoked_at is not None


def command_create_access_token(w: World) -> None:
    call_command("create_access_token", "mia", stdout=io.StringIO())


def command_import_cors(w: World) -> None:
    options = w.tmp_path / "cors.json"
    options.write_text(json.dumps({"origin": ["https://imported.example.com"]}))
    call_command(
        "import_cors",
        "--from-json",
        str(options),
        "--api",
        "imported",
        "--team",
        "payments",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )


def command_expire_origins(w: World) -> None:
    with pytest.MonkeyPatch.context() as patch:
        later = timezone.now() + timedelta(hours=2)
        patch.setattr(timezone, "now", lambda: later)
        call_command("expire_origins", stdout=io.StringIO())


def celery_expire_origins(w: World) -> None:
    with pytest.MonkeyPatch.context() as patch:
        later = timezone.now() + timedelta(hours=2)
        patch.setattr(timezone, "now", lambda: later)
        assert tasks.expire_origins.delay().get() == 1


def make_expiring_origin(w: World) -> None:
    services.add_origin(
        actor=Actor.system("setup"),
        api=w.api,
        value="https://pr-1.preview.example.com",
        expires_at=timezone.now() + timedelta(hours=1),
    )


def service_revoke_access_token(w: World) -> None:
    token = AccessToken.objects.get(user=w.member)
    services.revoke_access_token(actor=Actor.for_user(w.member), token=token, comment="lost")


def login_failure(w: World) -> None:
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="198.51.100.7")
    authenticate(request=request, username="mia", password="wrong")


def nothing(w: World) -> None:
    pass


Row = tuple[str, Callable[[World], None], Callable[[World], None], tuple[str, str, str]]
# (surface, setup (not under test), the change, (action, actor type, actor name prefix))
PATHS: list[Row] = [
    ("dashboard: add origin", nothing, dashboard_add_origin, ("origin.added", "user", "mia")),
    (
        "dashboard: rollback",
        make_version_two,
        dashboard_rollback,
        ("api.rolled_back", "user", "mia"),
    ),
    ("admin: change origin", nothing, admin_change_origin, ("origin.changed", "user", "root")),
    ("api (session): update", nothing, api_session_update, ("api.updated", "user", "mia")),
    (
        "api (token): add origin",
        nothing,
        api_token_add_origin,
        ("origin.added", "token", "mia (token"),
    ),
    (
        "api (token): rollback",
        make_version_two,
        api_token_rollback,
        ("api.rolled_back", "token", "mia (token"),
    ),
    (
        "api: issue service token",
        nothing,
        api_issue_service_token,
        ("token.issued", "token", "mia (token"),
    ),
    (
        "api: revoke service token",
        make_service_token,
        api_revoke_service_token,
        ("token.revoked", "token", "mia (token"),
    ),
    (
        "command: create_access_token",
        nothing,
        command_create_access_token,
        ("token.issued", "system", "create_access_token"),
    ),
    (
        "command: import_cors",
        nothing,
        command_import_cors,
        ("api.created", "system", "import_cors"),
    ),
    (
        "command: expire_origins",
        make_expiring_origin,
        command_expire_origins,
        ("origin.expired", "system", "expiry"),
    ),
    (
        "celery: expire_origins",
        make_expiring_origin,
        celery_expire_origins,
        ("origin.expired", "system", "expiry"),
    ),
    (
        "service: revoke access token",
        nothing,
        service_revoke_access_token,
        ("token.revoked", "user", "mia"),
    ),
    ("auth: failed login", nothing, login_failure, ("auth.login_failed", "system", "anonymous")),
]


@pytest.mark.parametrize(
    ("setup", "change", "expected"),
    [(p[1], p[2], p[3]) for p in PATHS],
    ids=[p[0] for p in PATHS],
)
def test_change__through_each_surface__exactly_one_event_naming_actor(
    world: World,
    setup: Callable[[World], None],
    change: Callable[[World], None],
    expected: tuple[str, str, str],
) -> None:
    # Given the state this surface needs, and the events so far
    setup(world)
    before = AuditEvent.objects.count()
    # When one change is made through this surface
    change(world)
    # Then exactly one event was added, naming the action and who made it
    added = list(AuditEvent.objects.order_by("sequence"))[before:]
    assert len(added) == 1, [(e.action, e.actor_name) for e in added]
    action, actor_type, actor_name = expected
    assert (added[0].action, added[0].actor_type) == (action, actor_type)
    assert added[0].actor_name.startswith(actor_name), added[0].actor_name
    # And the chain still verifies
    assert verify_chain() == (AuditEvent.objects.count(), None)
