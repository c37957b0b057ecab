"""Writes through policies.services: validation, versions, authorisation, stale writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from policies import services
from policies.actors import Actor
from policies.documents import compile_document
from policies.models import Api, AuditEvent, OriginRule, PolicyVersion

pytestmark = pytest.mark.django_db


def test_create_api__valid__version_one_snapshot_and_document(api: Api) -> None:
    # Given an API created through the service (fixture)
    # Then it starts at version 1 with a snapshot and a schema-1 document
    assert api.version == 1
    assert PolicyVersion.objects.get(api=api).version == 1
    document = compile_document(api)
    assert document["schema"] == 1
    assert document["api"] == "billing"
    assert document["origins"]["exact"] == ["https://app.example.com"]


def test_create_api__bad_origin_and_slug__field_errors_and_nothing_saved(
    actor: Actor, team: Group
) -> None:
    # When an API is created with a bad slug and an origin with a path
    with pytest.raises(services.ValidationFailed) as failure:
        services.create_api(
            actor=actor,
            slug="Not A Slug",
            name="x",
            team=team,
            origins=[{"kind": "exact", "value": "https://example.com/app"}],
        )
    # Then each field names its problem and nothing was written
    assert "slug" in failure.value.errors
    assert "path" in failure.value.errors["origins[0]"][0]
    assert not Api.objects.exists()
    assert not AuditEvent.objects.exists()


def test_add_origin__non_canonical_input__stored_canonical_and_version_bumped(
    api: Api, actor: Actor
) -> None:
    # When an origin is added as a person might type it
    rule = services.add_origin(actor=actor, api=api, value="HTTPS://Shop.Example.COM:443")
    # Then it is stored as browsers send it, and the API moved to version 2
    assert rule.value == "https://shop.example.com"
    api.refresh_from_db()
    assert api.version == 2
    assert compile_document(api)["origins"]["exact"] == [
        "https://app.example.com",
        "https://shop.example.com",
    ]


def test_add_origin__duplicate__refused_with_message(api: Api, actor: Actor) -> None:
    with pytest.raises(services.ValidationFailed) as failure:
        services.add_origin(actor=actor, api=api, value="https://app.example.com/")
    assert failure.value.errors == {"value": ["https://app.example.com is already listed"]}
    api.refresh_from_db()
    assert api.version == 1


def test_add_origin__stale_expected_version__refused(api: Api, actor: Actor) -> None:
    # Given someone else changed the API after we loaded version 1
    services.add_origin(actor=actor, api=api, value="https://one.example.com")
    # When we write with If-Match 1
    with pytest.raises(services.StaleVersion) as failure:
        services.add_origin(
            actor=actor, api=api, value="https://two.example.com", expected_version=1
        )
    # Then the write is refused and names the current version
    assert failure.value.current == 2
    assert not OriginRule.objects.filter(value="https://two.example.com").exists()


def test_update_api__outsider__not_permitted(api: Api, outsider: User) -> None:
    with pytest.raises(services.NotPermitted):
        services.update_api(actor=Actor.for_user(outsider), api=api, max_age=60)
    api.refresh_from_db()
    assert api.max_age == 600


def test_add_origin__catch_all_regex__lint_error_blocks_even_without_credentials(
    api: Api, actor: Actor
) -> None:
    # Given an API without credentials
    services.update_api(actor=actor, api=api, allow_credentials=False)
    # When a regex that admits any https origin is added
    with pytest.raises(services.ValidationFailed) as failure:
        services.add_origin(actor=actor, api=api, kind="regex", value="^https://.*$")
    # Then lint refuses the save (it escapes every named domain), naming the field and rule
    assert "origins" in failure.value.errors
    assert {f.rule for f in failure.value.findings} >= {"origin-outside-named-domains"}
    assert not api.origins.filter(kind="regex").exists()


def test_update_api__bad_fields__each_field_named(api: Api, actor: Actor) -> None:
    with pytest.raises(services.ValidationFailed) as failure:
        services.update_api(
            actor=actor, api=api, methods=["GET", "BAD METHOD"], paths="(", mode="loud"
        )
    assert set(failure.value.errors) == {"methods", "paths", "mode"}


def test_update_api__no_change__no_new_version(api: Api, actor: Actor) -> None:
    services.update_api(actor=actor, api=api, max_age=api.max_age)
    api.refresh_from_db()
    assert api.version == 1


def test_rollback__to_first_version__restores_state_as_new_version(api: Api, actor: Actor) -> None:
    # Given two changes after version 1
    services.add_origin(actor=actor, api=api, value="https://two.example.com")
    services.update_api(actor=actor, api=api, max_age=60)
    # When rolling back to version 1
    services.rollback(actor=actor, api=api, to_version=1)
    # Then version 4 has version 1's policy
    api.refresh_from_db()
    assert api.version == 4
    assert api.max_age == 600
    assert compile_document(api)["origins"]["exact"] == ["https://app.example.com"]


def test_rollback__unknown_version__clear_error(api: Api, actor: Actor) -> None:
    with pytest.raises(services.ValidationFailed) as failure:
        services.rollback(actor=actor, api=api, to_version=99)
    assert failure.value.errors == {"version": ["billing has no version 99"]}


def test_expire_origins__past_expiry__removed_by_system(api: Api, actor: Actor) -> None:
    # Given a preview origin allowed for one hour
    rule = services.add_origin(
        actor=actor,
        api=api,
        value="https://pr-1.preview.example.com",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    # When the expiry runs two hours later
    removed = services.expire_origins(now=timezone.now() + timedelta(hours=2))
    # Then the rule is gone and the system is recorded as having removed it
    assert removed == 1
    assert not OriginRule.objects.filter(pk=rule.pk).exists()
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event is not None
    assert (event.action, event.actor_type, event.actor_name) == (
        "origin.expired",
        "system",
        "expiry",
    )


def test_document__expired_rule__not_published_even_before_expiry_task(
    api: Api, actor: Actor
) -> None:
    services.add_origin(
        actor=actor,
        api=api,
        value="https://pr-2.preview.example.com",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    later = timezone.now() + timedelta(minutes=6)
    assert compile_document(api, now=later)["origins"]["exact"] == ["https://app.example.com"]


def test_delete_api__member__removed_and_audited(api: Api, actor: Actor) -> None:
    services.delete_api(actor=actor, api=api, comment="retired")
    assert not Api.objects.exists()
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event is not None
    assert (event.action, event.api_slug, event.comment) == ("api.deleted", "billing", "retired")


def test_write__lint_findings__worst_severity_stored_on_api(api: Api, actor: Actor) -> None:
    # Given a clean API
    assert api.lint_status == "ok"
    # When a change introduces a warning (the null origin), then removes it again
    services.update_api(actor=actor, api=api, allow_null=True)
    api.refresh_from_db()
    assert api.lint_status == "warning"
    services.update_api(actor=actor, api=api, allow_null=False)
    api.refresh_from_db()
    # Then the stored status follows every version
    assert api.lint_status == "ok"


def test_write__only_info_findings__lint_status_ok(api: Api, actor: Actor) -> None:
    # Given a clean API
    assert api.lint_status == "ok"
    # When its methods leave out POST: lint notes (INFO) that a methods list cannot stop
    # a CORS-safelisted method, which is a fact about CORS, not a risk of this policy
    services.update_api(actor=actor, api=api, methods=["GET", "OPTIONS"])
    api.refresh_from_db()
    # Then the stored status stays "ok" (the APIs list would flag every GET-only API otherwise)
    from policies.documents import compile_document
    from policies.lint import Severity, lint_document

    severities = {
        f.severity for f in lint_document(compile_document(api), environment=api.environment)
    }
    assert Severity.INFO in severities
    assert api.lint_status == "ok"


def test_create_api__read_only_role_as_team__refused(db: None) -> None:
    # Given the read-only role group
    role = Group.objects.get(name="read-only")
    # When a superuser (or the system) tries to make it own an API
    with pytest.raises(services.ValidationFailed) as failure:
        services.create_api(actor=Actor.system("t"), slug="x", name="X", team=role)
    # Then it is refused: it would show the API to every read-only user
    assert "read-only role" in failure.value.errors["team"][0]
    assert not Api.objects.exists()


def test_update_origin__expiry_in_past__refused(api: Api, actor: Actor) -> None:
    rule = api.origins.get()
    with pytest.raises(services.ValidationFailed) as failure:
        services.update_origin(
            actor=actor, rule=rule, expires_at=timezone.now() - timedelta(minutes=1)
        )
    assert failure.value.errors == {"expires_at": ["the expiry is in the past"]}
    rule.refresh_from_db()
    assert rule.expires_at is None


def test_expire_origins__api_deleted_during_run__other_rules_still_expire(
    api: Api, actor: Actor, team: Group
) -> None:
    # Given two expired rules on two APIs, the first of which vanishes mid-run
    other = services.create_api(actor=actor, slug="other", name="Other", team=team)
    soon = timezone.now() + timedelta(minutes=1)
    services.add_origin(
        actor=actor, api=api, value="https://a.preview.example.com", expires_at=soon
    )
    services.add_origin(
        actor=actor, api=other, value="https://b.preview.example.com", expires_at=soon
    )
    real_remove = services.remove_origin
    calls: list[int] = []

    def remove_or_vanish(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["rule"].pk)
        if len(calls) == 1:
            raise Api.DoesNotExist
        return real_remove(**kwargs)

    # When the expiry runs after both expired
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "remove_origin", remove_or_vanish)
        removed = services.expire_origins(now=soon + timedelta(minutes=1))
    # Then the run went on past the vanished API
    assert len(calls) == 2
    assert removed == 1
    assert not OriginRule.objects.filter(pk=calls[1]).exists()
    assert OriginRule.objects.filter(pk=calls[0]).exists()
