"""The audit log: one event per change, in the change's transaction, append-only, chained."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from policies import audit, services, tasks
from policies.actors import Actor
from policies.models import Api, AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db


def _events() -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("sequence"))


def test_service_write__each_kind__exactly_one_matching_event(api: Api, actor: Actor) -> None:
    # Given the API fixture created (one event), when each kind of change is made once
    rule = services.add_origin(actor=actor, api=api, value="https://b.example.com", comment="why")
    services.update_origin(actor=actor, rule=rule, note="partner")
    services.update_api(actor=actor, api=api, max_age=120)
    services.remove_origin(actor=actor, rule=rule)
    services.rollback(actor=actor, api=api, to_version=2)
    services.delete_api(actor=actor, api=api)
    # Then there is one event per change, in order, each naming the version it produced
    assert [(e.action, e.api_version) for e in _events()] == [
        ("api.created", 1),
        ("origin.added", 2),
        ("origin.changed", 3),
        ("api.updated", 4),
        ("origin.removed", 5),
        ("api.rolled_back", 6),
        ("api.deleted", 6),
    ]
    added = _events()[1]
    assert added.actor_name == "mia"
    assert added.comment == "why"
    assert added.after == {
        "kind": "exact",
        "value": "https://b.example.com",
        "note": "",
        "enabled": True,
        "expires_at": None,
    }


def test_update_event__changed_fields__diff_before_after(api: Api, actor: Actor) -> None:
    services.update_api(actor=actor, api=api, max_age=120, methods=["GET", "POST"])
    event = _events()[-1]
    assert {"field": "max_age", "before": 600, "after": 120} in event.diff
    methods = next(change for change in event.diff if change["field"] == "methods")
    assert methods["added"] == []
    assert set(methods["removed"]) == {"DELETE", "HEAD", "OPTIONS", "PATCH", "PUT"}


def test_failed_change__lint_error__no_event(api: Api, actor: Actor) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(services.ValidationFailed):
        services.update_api(actor=actor, api=api, allow_all=True, allow_credentials=True)
    assert AuditEvent.objects.count() == before


def test_change__transaction_rolled_back_later__event_rolled_back_too(
    api: Api, actor: Actor
) -> None:
    # Given a change inside an outer transaction that fails afterwards
    before = AuditEvent.objects.count()

    def change_then_fail() -> None:
        with transaction.atomic():
            services.update_api(actor=actor, api=api, max_age=60)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        change_then_fail()
    # Then neither the change nor its event remain
    api.refresh_from_db()
    assert api.max_age == 600
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_record__outside_transaction__refused(actor: Actor) -> None:
    with pytest.raises(RuntimeError):
        audit.record(actor=actor, action="api.updated")  # type: ignore[arg-type]


def test_event__orm_update_or_delete__refused(api: Api) -> None:
    event = _events()[0]
    event.comment = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(comment="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_event__raw_sql_update__refused_by_database_trigger(api: Api) -> None:
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE policies_auditevent SET comment = 'x'")


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the DELETE trigger exists on PostgreSQL only"
)
def test_event__raw_sql_delete__refused_by_postgres_trigger(api: Api) -> None:
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM policies_auditevent")


def test_verify_audit__intact_chain__reports_count(api: Api, actor: Actor) -> None:
    services.update_api(actor=actor, api=api, max_age=60)
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "intact: 2 events verified" in out.getvalue()


def _tamper(sql: str, params: list[object]) -> None:
    """Simulate an attacker with database access who bypasses the trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE policies_auditevent DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE policies_auditevent ENABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER policies_auditevent_no_update")
            cursor.execute(sql, params)


@pytest.fixture
def three_events(api: Api, actor: Actor) -> list[AuditEvent]:
    services.update_api(actor=actor, api=api, max_age=60)
    services.update_api(actor=actor, api=api, max_age=30)
    return _events()


def test_verify_audit__altered_event__names_it(three_events: list[AuditEvent]) -> None:
    _tamper("UPDATE policies_auditevent SET actor_name = 'someone' WHERE sequence = 2", [])
    with pytest.raises(CommandError, match=r"#2: event #2 was altered"):
        call_command("verify_audit")


def test_verify_audit__removed_event__names_the_gap(three_events: list[AuditEvent]) -> None:
    _tamper("DELETE FROM policies_auditevent WHERE sequence = 2", [])
    with pytest.raises(CommandError, match=r"event #2 is missing"):
        call_command("verify_audit")


def test_verify_audit__removed_newest_event__detected(three_events: list[AuditEvent]) -> None:
    _tamper("DELETE FROM policies_auditevent WHERE sequence = 3", [])
    with pytest.raises(CommandError, match=r"newest events were removed"):
        call_command("verify_audit")


def test_verify_audit__inserted_event__detected(three_events: list[AuditEvent]) -> None:
    # Given an attacker renumbers event 3 to 4 and inserts a forged #3 with a valid own digest
    forged = three_events[1]
    _tamper("UPDATE policies_auditevent SET sequence = 4 WHERE sequence = 3", [])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO policies_auditevent (sequence, timestamp, actor_type, actor_name,"
            " user_agent, request_id, action, api_slug, object_type, object_id, object_repr,"
            " diff, comment, prev_digest, digest) VALUES (3, %s, 'user', 'eve', '', '',"
            " 'origin.added', 'billing', '', '', '', '[]', '', %s, %s)",
            [timezone.now(), forged.digest, "f" * 64],
        )
    with pytest.raises(CommandError, match=r"#3"):
        call_command("verify_audit")


def test_archive_audit__old_events__written_removed_and_chain_still_verifies(
    three_events: list[AuditEvent], tmp_path: Path
) -> None:
    # Given three events, when everything before tomorrow is archived
    target = tmp_path / "audit.jsonl"
    tomorrow = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    call_command("archive_audit", before=tomorrow, to=str(target), stdout=io.StringIO())
    # Then the file holds them, the table holds only the archiving's own event, and verify passes
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [row["sequence"] for row in rows] == [1, 2, 3]
    assert [(e.sequence, e.action) for e in _events()] == [(4, "audit.archived")]
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "intact: 1 events verified" in out.getvalue()


def test_archive_audit__bad_date__clear_error_nothing_lost(
    three_events: list[AuditEvent], tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="is not a date"):
        call_command("archive_audit", before="last week", to=str(tmp_path / "a.jsonl"))
    assert len(_events()) == 3


def test_expire_task__celery__records_system_event(api: Api, actor: Actor) -> None:
    rule = services.add_origin(
        actor=actor,
        api=api,
        value="https://pr-9.preview.example.com",
        expires_at=timezone.now() + timedelta(seconds=1),
    )
    # The rule expired a second later; the task (eager here) removes it.
    with pytest.MonkeyPatch.context() as patch:
        later = timezone.now() + timedelta(seconds=5)
        patch.setattr(timezone, "now", lambda: later)
        assert tasks.expire_origins.delay().get() == 1
    event = _events()[-1]
    assert (event.action, event.object_id, event.actor_type) == (
        "origin.expired",
        str(rule.pk),
        "system",
    )


def test_load_demo__command__audited_as_system(db: None) -> None:
    call_command("load_demo", stdout=io.StringIO())
    event = _events()[-1]
    assert (event.action, event.api_slug, event.actor_name) == (
        "api.created",
        "demo",
        "demo loader",
    )
    assert Group.objects.filter(name="platform").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers__many_threads__chain_never_forks(team: Group, actor: Actor) -> None:
    # Given four APIs changed from four threads at once (each thread its own connection)
    import threading
    import time

    from django.db import connections

    apis = [
        services.create_api(actor=actor, slug=f"api-{n}", name=f"API {n}", team=team)
        for n in range(4)
    ]
    errors: list[BaseException] = []

    def change(api: Api) -> None:
        try:
            for age in range(5):
                for attempt in range(20):
                    try:
                        services.update_api(actor=actor, api=api, max_age=100 + age)
                        break
                    except Exception as exc:  # SQLite: "database is locked" under contention
                        if "locked" not in str(exc) or attempt == 19:
                            raise
                        time.sleep(0.02 * (attempt + 1))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=change, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every write got its own link: sequences contiguous, chain verifies
    assert errors == []
    assert [e.sequence for e in _events()] == list(range(1, 4 + 4 * 5 + 1))
    checked, problem = audit.verify_chain()
    assert (checked, problem) == (24, None)


def test_expire_origins_command__expired_rule__removed(api: Api, actor: Actor) -> None:
    services.add_origin(
        actor=actor,
        api=api,
        value="https://pr-3.preview.example.com",
        expires_at=timezone.now() + timedelta(seconds=1),
    )
    later = timezone.now() + timedelta(seconds=5)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: later)
        call_command("expire_origins", stdout=out)
    assert out.getvalue().strip() == "expired 1 origin rule(s)"
    assert _events()[-1].action == "origin.expired"


def test_record__clock_stepped_back__timestamps_never_go_backwards(api: Api, actor: Actor) -> None:
    # Given the clock jumps back an hour after an event (an NTP step)
    first = _events()[-1]
    earlier = first.timestamp - timedelta(hours=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: earlier)
        services.update_api(actor=actor, api=api, max_age=60)
    # Then the new event is not dated before the one it follows
    assert _events()[-1].timestamp >= first.timestamp


def test_filter_events__date_window__same_events_as_timestamp_filter(
    api: Api, actor: Actor
) -> None:
    from policies.audit_selectors import filter_events

    for age in (10, 20, 30):
        services.update_api(actor=actor, api=api, max_age=age)
    events = _events()
    since, before = events[1].timestamp, events[3].timestamp
    window = filter_events(AuditEvent.objects.all(), since=since, before=before)
    assert [e.sequence for e in window.order_by("sequence")] == [
        e.sequence for e in events if since <= e.timestamp < before
    ]
    assert not filter_events(AuditEvent.objects.all(), since=timezone.now() + timedelta(1))
