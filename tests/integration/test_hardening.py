"""Hardening found by attack: each input that used to answer 500 (or store without bound)
gets a clear 4xx, and nothing already stored is lost or changed.

Run on SQLite by default and on PostgreSQL with
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/corsadmin_<branch>`` (NUL bytes, bigint
overflow and lone surrogates fail differently there).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from policies import selectors, services
from policies.actors import Actor
from policies.models import Api, ConsumerInstance, OriginRule, RefusedOrigin, ServiceToken

pytestmark = pytest.mark.django_db

JSON = "application/json"
MAX = 2**63 - 1


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.fixture
def personal(member: User) -> str:
    return services.issue_access_token(actor=Actor.for_user(member), user=member, name="ci")[1]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# --- the dashboard's query parameters ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        ("/apis/billing/", {"edit": "²"}, "edit"),
        ("/apis/billing/", {"edit": "9" * 30}, "edit"),
        ("/apis/billing/", {"opage": "²"}, "opage"),
        ("/apis/billing/", {"opage": "0"}, "opage"),
        ("/apis/billing/history/", {"at": "²"}, "at"),
        ("/apis/billing/history/", {"a": "²"}, "a"),
        ("/apis/billing/history/", {"b": "-1"}, "b"),
        ("/audit/", {"before": "²"}, "before"),
        ("/audit/", {"after": "9" * 30}, "after"),
        ("/audit/", {"until": "9999-12-31"}, "9999-12-30"),
        ("/audit/", {"since": "9999-12-31"}, "9999-12-30"),
        ("/audit/export.csv", {"until": "9999-12-31"}, "until"),
        ("/audit/export.jsonl", {"since": "²"}, "since"),
    ],
)
def test_dashboard_query__malformed_number_or_date__400_naming_it(
    member_client: Client, api: Api, path: str, query: dict[str, str], named: str
) -> None:
    # Given an API and a person who may see it
    # When a page is asked for with a mangled number or an unusable date
    response = member_client.get(path, query)
    # Then a 400 that says what was wrong, not a 500
    assert response.status_code == 400
    assert named in response.content.decode()


def test_dashboard_query__valid_numbers__still_work(member_client: Client, api: Api) -> None:
    # Given an API with a second version
    services.add_origin(actor=Actor.system("t"), api=api, value="https://b.example.com")
    # When the pages are asked for with well-formed parameters (and empty ones)
    # Then they answer as before
    for path, query in [
        ("/apis/billing/history/", {"at": "2", "a": "1", "b": "2"}),
        ("/apis/billing/", {"edit": "", "opage": "1"}),
        ("/audit/", {"before": "100", "until": "9999-12-30"}),
    ]:
        assert member_client.get(path, query).status_code == 200, (path, query)


@pytest.mark.parametrize("action", ["toggle", "remove"])
@pytest.mark.parametrize("version", ["²", "9" * 30, "-1"])
def test_origin_action__malformed_expected_version__400_and_nothing_changed(
    member_client: Client, api: Api, action: str, version: str
) -> None:
    # Given an enabled origin rule
    rule = api.origins.get()
    # When it is disabled or removed with a mangled expected_version
    response = member_client.post(
        f"/apis/billing/origins/{rule.pk}/{action}/", {"expected_version": version}
    )
    # Then 400 naming the field, and the rule and the API's version are as they were
    assert response.status_code == 400
    assert "expected_version" in response.content.decode()
    assert OriginRule.objects.get(pk=rule.pk).enabled
    assert Api.objects.get(pk=api.pk).version == 1


# --- JSON nesting -----------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [5000, 100])
def test_json_body__nested_too_deep__400_everywhere(
    client: Client, api: Api, personal: str, levels: int
) -> None:
    # Given the management API and the consumers' report endpoint
    secret = services.issue_service_token(actor=Actor.system("t"), name="web", apis=[api])[1]
    body = '{"name": "x", "description": ' + _deep(levels) + "}"
    # When bodies nested thousands (or just too many) levels deep are sent
    answers = [
        client.post("/api/v1/apis/", body, content_type=JSON, headers=_bearer(personal)),
        client.patch("/api/v1/apis/billing/", body, content_type=JSON, headers=_bearer(personal)),
        client.post("/api/v1/reports", body, content_type=JSON, headers=_bearer(secret)),
    ]
    # Then each is a 400 that says why, and nothing changed
    for response in answers:
        assert response.status_code == 400, response.content
        assert "nested deeper than" in response.content.decode()
    assert Api.objects.get(pk=api.pk).version == 1


def test_json_body__larger_than_upload_limit__413_json_not_the_dashboard_page(
    client: Client, api: Api, personal: str, settings: Any
) -> None:
    # Given a small upload limit
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"kind": "exact", "value": "https://a.example.com", "note": "x" * 5000})
    # When the management API is sent a body over it
    response = client.post(
        "/api/v1/apis/billing/origins/", body, content_type=JSON, headers=_bearer(personal)
    )
    # Then a JSON 413 says so (not the dashboard's HTML page), and nothing changed
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "larger than 1000 bytes" in response.json()["detail"]
    assert Api.objects.get(pk=api.pk).version == 1


# --- "created by" with a personal access token ---------------------------------------------------


def test_personal_token__creates_origin_and_service_token__created_by_its_owner(
    client: Client, api: Api, personal: str, member_client: Client
) -> None:
    # Given mia's personal access token
    # When she adds an origin and issues a service token with it
    added = client.post(
        "/api/v1/apis/billing/origins/",
        {"value": "https://shop.example.com"},
        content_type=JSON,
        headers=_bearer(personal),
    )
    issued = client.post(
        "/api/v1/apis/billing/tokens/",
        {"name": "shop-web"},
        content_type=JSON,
        headers=_bearer(personal),
    )
    # Then both are "created by" mia, in the API and on the dashboard
    assert added.status_code == 201, added.content
    assert issued.status_code == 201, issued.content
    assert added.json()["created_by"] == "mia"
    assert issued.json()["created_by"] == "mia"
    token = ServiceToken.objects.get(name="shop-web")
    assert token.created_by is not None
    assert token.created_by.username == "mia"
    page = member_client.get("/apis/billing/tokens/").content.decode()
    assert "by mia" in page


def test_personal_token__creates_api__created_by_its_owner(
    client: Client, team: Any, personal: str
) -> None:
    # Given mia's personal access token
    # When she creates an API with it
    response = client.post(
        "/api/v1/apis/",
        {"slug": "shop", "name": "Shop", "team": team.name, "environment": "staging"},
        content_type=JSON,
        headers=_bearer(personal),
    )
    # Then the API is created by mia (not by whoever has the token's id as a user id)
    assert response.status_code == 201, response.content
    created = Api.objects.get(slug="shop").created_by
    assert created is not None
    assert created.username == "mia"


# --- origins per API ------------------------------------------------------------------------------


def test_create_api__more_origins_than_the_cap__400_and_nothing_created(
    client: Client, team: Any, personal: str
) -> None:
    # Given the default cap of 1000 origin rules per API
    origins = [{"value": f"https://o{i}.example.com"} for i in range(1001)]
    # When an API is created with 1001 origins in one request
    response = client.post(
        "/api/v1/apis/",
        {"slug": "huge", "name": "Huge", "team": team.name, "origins": origins},
        content_type=JSON,
        headers=_bearer(personal),
    )
    # Then a 400 naming the cap and its setting; nothing was created
    assert response.status_code == 400
    assert "CORSADMIN_MAX_ORIGINS_PER_API" in response.json()["origins"][0]
    assert not Api.objects.filter(slug="huge").exists()


def test_add_origin__api_at_the_cap__400_api_and_dashboard_nothing_changed(
    client: Client, api: Api, personal: str, member_client: Client, settings: Any
) -> None:
    # Given an API already holding as many rules as allowed
    settings.CORSADMIN_MAX_ORIGINS_PER_API = 2
    services.add_origin(actor=Actor.system("t"), api=api, value="https://two.example.com")
    # When one more is added through the API, the dashboard, and a rollback is not involved
    answer = client.post(
        "/api/v1/apis/billing/origins/",
        {"value": "https://three.example.com"},
        content_type=JSON,
        headers=_bearer(personal),
    )
    page = member_client.post(
        "/apis/billing/origins/add/",
        {"add-kind": "exact", "add-value": "https://three.example.com", "add-expected_version": 2},
        headers={"HX-Request": "true"},
    )
    # Then both refuse, saying why, and the API is unchanged
    assert answer.status_code == 400
    assert "at most 2 origin rules" in answer.json()["value"][0]
    assert page.status_code == 422
    assert "at most 2 origin rules" in page.content.decode()
    assert Api.objects.get(pk=api.pk).version == 2
    assert api.origins.count() == 2


def test_rollback__to_a_version_over_the_cap__400(
    client: Client, api: Api, personal: str, settings: Any
) -> None:
    # Given version 2 had two rules, and the cap was lowered to one since
    system = Actor.system("t")
    extra = services.add_origin(actor=system, api=api, value="https://two.example.com")
    services.remove_origin(actor=system, rule=extra)
    settings.CORSADMIN_MAX_ORIGINS_PER_API = 1
    # When version 2 is restored
    response = client.post(
        "/api/v1/apis/billing/versions/2/rollback", {}, content_type=JSON, headers=_bearer(personal)
    )
    # Then it is refused like any other change that would exceed the cap
    assert response.status_code == 400
    assert "CORSADMIN_MAX_ORIGINS_PER_API" in response.json()["origins"][0]
    assert Api.objects.get(pk=api.pk).version == 3


@pytest.fixture
def many(api: Api) -> list[OriginRule]:
    """billing with 250 rules (o000..o248 plus app.example.com), in page order."""
    system = Actor.system("t")
    rules = [
        services.add_origin(actor=system, api=api, value=f"https://o{i:03}.example.com")
        for i in range(249)
    ]
    return sorted([*rules, api.origins.get(value="https://app.example.com")], key=lambda r: r.value)


def _rows(html: str) -> int:
    return html.count('<tr id="origin-')


def test_api_page__many_origins__paginated_and_inline_editing_works(
    member_client: Client, many: list[OriginRule]
) -> None:
    # Given an API with 250 origin rules
    # When its page is opened
    first = member_client.get("/apis/billing/").content.decode()
    # Then it lists the first hundred, says how many there are, and links the next page
    assert _rows(first) == 100
    assert "250 rules" in first
    assert "?opage=2" in first
    last = member_client.get("/apis/billing/", {"opage": "3"}).content.decode()
    assert _rows(last) == 50
    assert many[-1].value in last
    assert member_client.get("/apis/billing/", {"opage": "99"}).status_code == 200  # last page
    # When a rule on page 3 is opened for editing (link and HTMX)
    target = many[220]
    linked = member_client.get("/apis/billing/", {"edit": str(target.pk)}).content.decode()
    row = member_client.get(
        f"/apis/billing/origins/{target.pk}/edit/", headers={"HX-Request": "true"}
    )
    # Then its page is shown with its form, and the HTMX answer is its row alone
    assert f'name="o{target.pk}-value"' in linked
    assert _rows(linked) == 50
    assert row.status_code == 200
    assert _rows(row.content.decode()) == 1
    assert f'name="o{target.pk}-value"' in row.content.decode()
    # When a rule on page 2 is removed from that page (HTMX)
    victim = many[150]
    answer = member_client.post(
        f"/apis/billing/origins/{victim.pk}/remove/",
        {"expected_version": "250"},
        headers={
            "HX-Request": "true",
            "HX-Current-URL": "http://testserver/apis/billing/?opage=2",
            "HX-Prompt": "cleanup",
        },
    )
    # Then the section that comes back is page 2 again, without the rule
    html = answer.content.decode()
    assert answer.status_code == 200
    assert f'id="origin-{victim.pk}"' not in html
    assert f'id="origin-{many[151].pk}"' in html
    assert f'id="origin-{many[99].pk}"' not in html  # page 1's last row
    assert "249 rules" in html
    # And a single row's "cancel" still renders that row
    cancel = member_client.get(
        f"/apis/billing/origins/{target.pk}/", headers={"HX-Request": "true"}
    )
    assert _rows(cancel.content.decode()) == 1


# --- consumer telemetry ---------------------------------------------------------------------------


@pytest.fixture
def secret(api: Api) -> str:
    return services.issue_service_token(actor=Actor.system("t"), name="billing-web", apis=[api])[1]


def _report(refused: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"instance": "host:1", "heartbeat": [], "refused": refused, **extra}


def _refusal(origin: str, count: int = 1) -> dict[str, Any]:
    return {"api": "billing", "origin": origin, "reason": "origin-not-allowed", "count": count}


def _send(client: Client, secret: str, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/v1/reports", data, content_type=JSON, headers=_bearer(secret))


def _refused(api: Api) -> dict[str, int]:
    since = timezone.now() - timedelta(hours=2)
    return {row["origin"]: row["count"] for row in selectors.refused_origins(api, since)}


def test_report__nul_and_lone_surrogate_in_origin__stored_sanitised_with_the_rest(
    client: Client, api: Api, secret: str
) -> None:
    # Given a consumer that counted refused origins with a NUL byte and a lone surrogate
    body = json.dumps(
        _report(
            [
                _refusal("https://evil\x00.example", 2),
                _refusal("https://ok.example", 3),
                {**_refusal("https://x.example", 1), "sample": "bad \x00 sample"},
            ],
            service="web\x00",
        )
    ).replace("https://x.example", "https://x\\ud800.example")
    # When it reports them (twice: the second report adds to the same counters)
    first = _send(client, secret, body)
    second = _send(client, secret, body)
    # Then each is stored, made storable, and nothing of the batch is lost
    assert first.status_code == 202, first.content
    assert first.json() == {"stored": 3, "ignored": 0}
    assert second.status_code == 202
    assert _refused(api) == {
        "https://evil\ufffd.example": 4,
        "https://ok.example": 6,
        "https://x\ufffd.example": 2,
    }


def test_report__heartbeat_negative_age_and_unknown_mode__stored_as_unknown(
    client: Client, api: Api, secret: str
) -> None:
    # Given a heartbeat no consumer can mean: an age before confirmation, a NUL for a mode
    beat = {"api": "billing", "version": 1, "mode": "\x00", "age": -1, "stale": False}
    # When it is reported
    response = _send(client, secret, {**_report([]), "heartbeat": [beat]})
    # Then the instance is recorded, with the age and mode unknown rather than shown as sent
    assert response.status_code == 202, response.content
    instance = ConsumerInstance.objects.get(api=api)
    assert (instance.age_seconds, instance.mode, instance.version) == (None, "", 1)


def test_report__count_beyond_bigint__400_nothing_stored(
    client: Client, api: Api, secret: str
) -> None:
    # Given a report with one impossible count among good ones
    body = _report([_refusal("https://ok.example", 1), _refusal("https://big.example", 2**63)])
    # When it is sent
    response = _send(client, secret, body)
    # Then a 400 names the entry; nothing of the report was stored
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"refused[1].count": [f"a count is a whole number from 1 to {MAX}"]}
    }
    assert not RefusedOrigin.objects.exists()


def test_report__counts_that_add_up_beyond_bigint__saturate(
    client: Client, api: Api, secret: str
) -> None:
    # Given the largest count a consumer could send, twice in one report and again later
    body = _report([_refusal("https://a.example", MAX), _refusal("https://a.example", MAX)])
    # When both reports are stored
    assert _send(client, secret, body).status_code == 202
    assert _send(client, secret, body).status_code == 202
    # Then the counter stops at the largest storable count instead of failing
    assert _refused(api) == {"https://a.example": MAX}


def test_report__heartbeat_numbers_out_of_range__stored_without_them(
    client: Client, api: Api, secret: str
) -> None:
    # Given a heartbeat with a version beyond bigint and an absurd age
    beat = {"api": "billing", "version": 2**64, "age": 10**400, "etag": '"e\x00"'}
    # When it is reported
    response = _send(client, secret, {"instance": "host:1", "heartbeat": [beat]})
    # Then the heartbeat is stored, the unstorable numbers left out
    assert response.status_code == 202, response.content
    consumer = ConsumerInstance.objects.get()
    assert (consumer.version, consumer.age_seconds, consumer.etag) == (None, None, '"e\ufffd"')


def test_report__more_distinct_origins_than_the_cap__rest_refused_counts_of_known_kept(
    client: Client, api: Api, secret: str, settings: Any
) -> None:
    # Given at most 3 distinct refused origins per API and hour
    settings.CORSADMIN_TELEMETRY_MAX_ORIGINS = 3
    # When a report brings 5 new ones
    first = _send(client, secret, _report([_refusal(f"https://o{i}.example") for i in range(5)]))
    # Then 3 are stored, 2 refused with a clear answer
    assert first.status_code == 202
    answer = first.json()
    assert (answer["stored"], answer["ignored"], answer["limited"]) == (3, 0, 2)
    assert "CORSADMIN_TELEMETRY_MAX_ORIGINS" in answer["detail"][0]
    assert len(_refused(api)) == 3
    # When a later report counts a known origin again and one more new one
    second = _send(
        client, secret, _report([_refusal("https://o0.example", 5), _refusal("https://n.example")])
    )
    # Then the known counter grows; the new origin is refused
    assert second.json()["limited"] == 1
    assert _refused(api)["https://o0.example"] == 6
    assert "https://n.example" not in _refused(api)


def test_report__cap__applies_per_hour(api: Api, secret: str, settings: Any) -> None:
    # Given an hour whose counters are at the cap
    settings.CORSADMIN_TELEMETRY_MAX_ORIGINS = 1
    now = timezone.now()
    payload = _report([_refusal("https://a.example")])
    record = services.record_consumer_report
    record(token_id=None, token_name="t", apis=frozenset({"billing"}), payload=payload, now=now)
    late = _report([_refusal("https://b.example")])
    limited = record(token_id=None, token_name="t", apis=frozenset({"billing"}), payload=late)
    # When the next hour comes
    later = record(
        token_id=None,
        token_name="t",
        apis=frozenset({"billing"}),
        payload=late,
        now=now + timedelta(hours=1),
    )
    # Then a new origin may be counted again
    assert (limited.stored, limited.limited) == (0, 1)
    assert (later.stored, later.limited) == (1, 0)


def test_report__more_instances_than_the_cap__new_ones_refused_known_ones_update(
    client: Client, api: Api, secret: str, settings: Any
) -> None:
    # Given at most 2 consumer instances per API
    settings.CORSADMIN_TELEMETRY_MAX_INSTANCES = 2

    def beat(instance: str, version: int) -> Any:
        body = {"instance": instance, "heartbeat": [{"api": "billing", "version": version}]}
        return _send(client, secret, body).json()

    # When three instances report, then the first again
    assert beat("a", 1)["stored"] == 1
    assert beat("b", 1)["stored"] == 1
    third = beat("c", 1)
    again = beat("a", 2)
    # Then the third is refused with a clear answer, and the first still updates
    assert (third["stored"], third["limited"]) == (0, 1)
    assert "CORSADMIN_TELEMETRY_MAX_INSTANCES" in third["detail"][0]
    assert again == {"stored": 1, "ignored": 0}
    assert sorted(ConsumerInstance.objects.values_list("instance", "version")) == [
        ("a", 2),
        ("b", 1),
    ]
