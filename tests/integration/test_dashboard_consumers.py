"""Consumer telemetry in the dashboard: the consumers panel, refused origins with "allow",
and the consumers column of the APIs list. Telemetry is recorded the way consumers send it,
through `services.record_consumer_report`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from policies import services
from policies.actors import Actor
from policies.models import Api, AuditEvent, OriginRule, ServiceToken

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(name: str, *args: Any) -> str:
    return reverse(f"dashboard:{name}", args=args)


def _html(response: Any) -> str:
    return response.content.decode()


@pytest.fixture(autouse=True)
def _poll_every_30_seconds(settings: Any) -> None:
    settings.CORSADMIN_CONSUMER_POLL_SECONDS = 30  # a lagging consumer: 60 s behind


@pytest.fixture
def token(api: Api, actor: Actor) -> ServiceToken:
    return services.issue_service_token(actor=actor, name="billing-web", apis=[api])[0]


def _report(
    token: ServiceToken,
    instance: str,
    *,
    heartbeat: list[dict[str, Any]] = (),  # type: ignore[assignment]
    refused: list[dict[str, Any]] = (),  # type: ignore[assignment]
    now: datetime | None = None,
) -> None:
    slugs = frozenset(token.apis.values_list("slug", flat=True))
    services.record_consumer_report(
        token_id=token.pk,
        token_name=token.name,
        apis=slugs,
        payload={
            "instance": instance,
            "service": "billing-web",
            "heartbeat": list(heartbeat),
            "refused": list(refused),
            "dropped": 0,
        },
        now=now,
    )


def _beat(version: int | None, api: str = "billing", **extra: Any) -> dict[str, Any]:
    beat = {
        "api": api,
        "version": version,
        "etag": f'"e{version}"',
        "mode": "enforce",
        "age": 2.0,
        "stale": False,
        "source": "central",
        "last_error": None,
    }
    beat.update(extra)
    return beat


def _refusal(origin: str, count: int, reason: str = "origin-not-allowed") -> dict[str, Any]:
    return {
        "api": "billing",
        "origin": origin,
        "reason": reason,
        "count": count,
        "sample": f"origin {origin} is not allowed by billing",
    }


def _statuses(html: str) -> dict[str, str]:
    """instance -> status, from the consumers panel."""
    rows = re.findall(
        r'<tr class="consumer-(\w+)">.*?<div class="mono small muted">([^<]+)</div>', html, re.S
    )
    return {instance: status for status, instance in rows}


def _row(html: str, instance: str) -> str:
    match = re.search(rf'<tr class="consumer-\w+">(?:(?!</tr>).)*{instance}.*?</tr>', html, re.S)
    assert match is not None, instance
    return match.group(0)


@pytest.fixture
def fleet(api: Api, actor: Actor, token: ServiceToken) -> Api:
    """billing at v2, and consumers in every state."""
    services.add_origin(actor=actor, api=api, value="https://b.example.com")  # v2, just now
    now = timezone.now()
    _report(token, "host-a:1:current", heartbeat=[_beat(2)])
    # On v1, reported right after v2 was published: still within two poll intervals
    _report(token, "host-b:1:updating", heartbeat=[_beat(1)])
    # On v1, reported 5 minutes after v2 was published: lagging
    _report(token, "host-c:1:lagging", heartbeat=[_beat(1)], now=now + timedelta(minutes=5))
    # Says so itself
    _report(
        token,
        "host-d:1:flagged",
        heartbeat=[_beat(2, stale=True, age=400.0, last_error="central unreachable")],
    )
    # No heartbeat for 20 minutes
    _report(token, "host-e:1:silent", heartbeat=[_beat(2)], now=now - timedelta(minutes=20))
    # Never got a policy
    _report(token, "host-f:1:empty", heartbeat=[_beat(None, stale=True, age=None)])
    # Silent for two hours: no longer listed
    _report(token, "host-g:1:gone", heartbeat=[_beat(2)], now=now - timedelta(hours=2))
    api.refresh_from_db()
    return api


# --- consumers panel ---------------------------------------------------------------------------


def test_consumers_panel__versions_and_stale_flagged_with_why(
    member_client: Client, fleet: Api
) -> None:
    html = _html(member_client.get(_url("api-detail", fleet.slug)))
    assert _statuses(html) == {
        "host-a:1:current": "current",
        "host-b:1:updating": "updating",
        "host-c:1:lagging": "stale",
        "host-d:1:flagged": "stale",
        "host-e:1:silent": "stale",
        "host-f:1:empty": "stale",
    }
    assert "6 instances seen in the last hour" in html
    # The version each holds against the current one, mode, service, heartbeat
    current = _row(html, "host-a:1:current")
    assert '<span class="badge badge-version">v2</span>' in current
    assert "enforce" in current
    assert "billing-web" in current
    assert "just now" in current
    assert "1 behind v2" in _row(html, "host-b:1:updating")
    # Why each stale one is stale
    lagging = _row(html, "host-c:1:lagging")
    assert "1 behind v2" in lagging
    assert "still on v1 5 min after a newer version was published" in lagging
    assert "2 poll intervals, 60 s" in lagging
    flagged = _row(html, "host-d:1:flagged")
    assert "reports its copy as stale: central has not confirmed it for 6 min" in flagged
    assert "central unreachable" in flagged
    assert "no heartbeat for 20 min" in _row(html, "host-e:1:silent")
    assert "holds no policy" in _row(html, "host-f:1:empty")
    assert "host-g:1:gone" not in html
    # And the definition is on the page
    assert "two poll intervals of 30 s" in html


def test_consumers_panel__none_seen(member_client: Client, api: Api) -> None:
    html = _html(member_client.get(_url("api-detail", api.slug)))
    assert "No consumer has reported for this API in the last hour." in html


def test_consumers_panel__read_only_member_sees_it(read_only_client: Client, fleet: Api) -> None:
    html = _html(read_only_client.get(_url("api-detail", fleet.slug)))
    assert len(_statuses(html)) == 6


# --- APIs list column ----------------------------------------------------------------------------


def _consumer_cell(html: str, slug: str) -> list[str]:
    match = re.search(
        rf'<div class="muted mono small">{slug}</div>.*?<td class="consumers-cell">(.*?)</td>',
        html,
        re.S,
    )
    assert match is not None, slug
    return re.sub(r"<[^>]+>", " ", match.group(1)).split()


def test_list__consumers_column__same_states_as_the_panel(
    member_client: Client, fleet: Api, actor: Actor, team: Group
) -> None:
    services.create_api(actor=actor, slug="quiet", name="Quiet", team=team)
    html = _html(member_client.get(_url("api-list")))
    assert " ".join(_consumer_cell(html, "billing")) == "1 up to date 1 updating 4 stale"
    assert " ".join(_consumer_cell(html, "quiet")) == "none seen"


def _apis_with_consumers(actor: Actor, team: Group, prefix: str, count: int) -> None:
    """`count` APIs, each with one consumer up to date and one silent for 30 minutes."""
    apis = [
        services.create_api(actor=actor, slug=f"{prefix}-{i:02d}", name=f"{prefix} {i}", team=team)
        for i in range(count)
    ]
    token, _ = services.issue_service_token(actor=actor, name=prefix, apis=apis)
    now = timezone.now()
    for instance, when in ((f"{prefix}-a", now), (f"{prefix}-b", now - timedelta(minutes=30))):
        _report(token, instance, heartbeat=[_beat(1, api=a.slug) for a in apis], now=when)


def _list_queries(client: Client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_url("api-list"))
    assert response.status_code == 200
    return len(queries), _html(response)


def test_list__consumers_column__one_query_for_the_whole_page(
    member_client: Client, actor: Actor, team: Group
) -> None:
    # Given a page with one API with consumers
    _apis_with_consumers(actor, team, "one", 1)
    one, html = _list_queries(member_client)
    assert _consumer_cell(html, "one-00") == ["1", "up", "to", "date", "1", "stale"]
    # When the page has 40 such APIs
    _apis_with_consumers(actor, team, "many", 39)
    many, html = _list_queries(member_client)
    # Then it takes the same number of queries
    assert many == one
    assert len(re.findall(r'<td class="consumers-cell">', html)) == 40
    assert _consumer_cell(html, "many-38") == ["1", "up", "to", "date", "1", "stale"]


# --- refused origins -----------------------------------------------------------------------------


@pytest.fixture
def refusals(api: Api, token: ServiceToken) -> Api:
    now = timezone.now()
    _report(token, "host-a", refused=[_refusal("https://partner.example.com", 5)])
    _report(
        token,
        "host-b",
        refused=[
            _refusal("https://partner.example.com", 2),
            _refusal("null", 4),
            _refusal("https://app.example.com", 3, reason="header-not-allowed"),
        ],
    )
    # Older than 24 hours: not listed
    _report(
        token,
        "host-a",
        refused=[_refusal("https://old.example.com", 9)],
        now=now - timedelta(hours=30),
    )
    return api


def _refused_rows(html: str) -> dict[str, str]:
    section = html.split('<section id="refused"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(
        r"<tr>\s*<td class=\"mono origin-value\">([^<]+)</td>(.*?)</tr>", section, re.S
    )
    return {origin: rest for origin, rest in rows}


def test_refused__listed_with_counts_and_reason_allow_only_when_it_applies(
    member_client: Client, refusals: Api
) -> None:
    html = _html(member_client.get(_url("api-detail", refusals.slug)))
    rows = _refused_rows(html)
    assert set(rows) == {"https://partner.example.com", "null", "https://app.example.com"}
    partner = rows["https://partner.example.com"]
    assert '<td class="num">7</td>' in partner
    assert "origin-not-allowed" in partner
    assert "Allow</button>" in partner
    assert '<td class="num">4</td>' in rows["null"]
    assert "Allow</button>" not in rows["null"]  # not an origin an exact rule can hold
    assert "header-not-allowed" in rows["https://app.example.com"]
    assert "Allow</button>" not in rows["https://app.example.com"]
    assert "https://old.example.com" not in html
    # Ordered by count
    assert list(rows) == ["https://partner.example.com", "null", "https://app.example.com"]


def test_refused__read_only_member__listed_without_allow(
    read_only_client: Client, refusals: Api
) -> None:
    html = _html(read_only_client.get(_url("api-detail", refusals.slug)))
    assert "https://partner.example.com" in _refused_rows(html)
    assert "Allow</button>" not in html
    response = read_only_client.post(
        _url("refused-allow", refusals.slug), {"origin": "https://partner.example.com"}
    )
    assert response.status_code == 403
    assert not OriginRule.objects.filter(value="https://partner.example.com").exists()


def test_refused_allow__outsider__404(outsider_client: Client, refusals: Api) -> None:
    response = outsider_client.post(
        _url("refused-allow", refusals.slug), {"origin": "https://partner.example.com"}
    )
    assert response.status_code == 404
    assert not OriginRule.objects.filter(value="https://partner.example.com").exists()


def test_refused_allow__htmx__added_with_one_audit_event_and_panels_updated(
    member_client: Client, refusals: Api
) -> None:
    before = AuditEvent.objects.count()
    response = member_client.post(
        _url("refused-allow", refusals.slug),
        {"origin": "https://partner.example.com"},
        HTTP_HX_PROMPT="partner launch",
        **HTMX,
    )
    html = _html(response)
    assert response.status_code == 200
    # The origins section with the new rule, the version and the refused panel out of band
    assert html.lstrip().startswith('<section id="origins"')
    assert "Added https://partner.example.com." in html
    assert 'id="api-version" class="badge badge-version" hx-swap-oob="true">v2<' in html
    assert '<section id="refused" class="card" hx-swap-oob="true"' in html
    assert "allowed now" in _refused_rows(html)["https://partner.example.com"]
    rule = OriginRule.objects.get(value="https://partner.example.com")
    assert (rule.kind, rule.enabled) == ("exact", True)
    # Exactly one audit event, with the person and the why
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("sequence")
    assert (event.action, event.actor_name, event.comment) == (
        "origin.added",
        "mia",
        "partner launch",
    )
    # The full page no longer offers to allow it
    page = _html(member_client.get(_url("api-detail", refusals.slug)))
    assert "Allow</button>" not in _refused_rows(page)["https://partner.example.com"]


def test_refused_allow__plain_post__redirects_to_origins(
    member_client: Client, refusals: Api
) -> None:
    response = member_client.post(
        _url("refused-allow", refusals.slug),
        {"origin": "https://partner.example.com", "comment": "partner launch"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#origins")
    assert AuditEvent.objects.latest("sequence").comment == "partner launch"


def test_refused_allow__lint_warning__asks_for_confirmation_like_any_add(
    member_client: Client, refusals: Api, actor: Actor, settings: Any
) -> None:
    # (production here for its lint rules, without the approval that widening there needs)
    settings.CORSADMIN_APPROVALS = ""
    services.update_api(actor=actor, api=refusals, environment="production")
    before = AuditEvent.objects.count()
    response = member_client.post(
        _url("refused-allow", refusals.slug), {"origin": "http://partner.example.com"}, **HTMX
    )
    html = _html(response)
    assert response.status_code == 422
    assert "plain http" in html
    assert "I understand" in html
    assert 'value="http://partner.example.com"' in html  # kept in the add form to confirm
    assert not OriginRule.objects.filter(value="http://partner.example.com").exists()
    assert AuditEvent.objects.count() == before


def test_refused_allow__invalid_or_listed_origin__error_shown(
    member_client: Client, refusals: Api
) -> None:
    bad = member_client.post(
        _url("refused-allow", refusals.slug), {"origin": "https://example.com/path"}, **HTMX
    )
    assert bad.status_code == 422
    assert "origins have no path" in _html(bad)
    listed = member_client.post(
        _url("refused-allow", refusals.slug), {"origin": "https://app.example.com"}, **HTMX
    )
    assert listed.status_code == 422
    assert "https://app.example.com is already listed" in _html(listed)
    assert OriginRule.objects.filter(api=refusals).count() == 1
