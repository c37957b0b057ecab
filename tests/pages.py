"""Every dashboard page, found from the URL configuration rather than listed by hand.

`dashboard_urls(samples)` walks the `dashboard` and `webhooks` namespaces (their urls.py
modules and whatever they include) and fills each URL's parameters from `samples`: a URL
added later is visited by the layout and Content-Security-Policy tests without editing
them. A parameter with no sample fails loudly, naming it; add it to `Samples`. Which URLs
are pages is decided by what they answer: a full HTML document (`<!doctype html>`); htmx
fragments, exports and POST-only URLs are then left out by the callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from policies import services
from policies.actors import Actor
from webhooks import services as webhook_services

# Names outside the dashboard namespace that are pages people see.
EXTRA_PAGES = ["login"]


@dataclass
class Samples:
    """Values for URL parameters: by parameter name, or by (url name, parameter name)."""

    by_parameter: dict[str, Any] = field(default_factory=dict)
    by_url: dict[tuple[str, str], Any] = field(default_factory=dict)

    def value(self, url_name: str, parameter: str) -> Any:
        if (url_name, parameter) in self.by_url:
            return self.by_url[(url_name, parameter)]
        if parameter in self.by_parameter:
            return self.by_parameter[parameter]
        raise LookupError(
            f"no sample value for <{parameter}> of {url_name!r}: add one in tests/pages.py"
        )


def _patterns(namespace: str) -> list[URLPattern]:
    found: list[URLPattern] = []

    def walk(entries: list[Any], inside: bool) -> None:
        for entry in entries:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, inside or entry.namespace == namespace)
            elif isinstance(entry, URLPattern) and inside and entry.name:
                found.append(entry)

    walk(get_resolver().url_patterns, False)
    return found


def _parameters(pattern: URLPattern) -> list[str]:
    converters = getattr(pattern.pattern, "converters", {})
    if converters:
        return list(converters)
    return list(pattern.pattern.regex.groupindex)


def dashboard_urls(
    samples: Samples, namespaces: tuple[str, ...] = ("dashboard", "webhooks")
) -> dict[str, str]:
    """`{url name: path}` for every named URL of the namespaces, parameters filled in."""
    urls = {}
    for namespace in namespaces:
        for pattern in _patterns(namespace):
            name = str(pattern.name)
            kwargs = {p: samples.value(name, p) for p in _parameters(pattern)}
            urls[f"{namespace}:{name}"] = reverse(f"{namespace}:{name}", kwargs=kwargs)
    for name in EXTRA_PAGES:
        urls[name] = reverse(name)
    return urls


def is_page(content_type: str, body: str) -> bool:
    return content_type.startswith("text/html") and body.lstrip()[:15].lower() == "<!doctype html>"


def populate() -> tuple[User, Samples]:
    """A team member, APIs with long origins, notes, expiries, tokens, history, audit
    events: content that makes tables wide. Returns the member and the URL samples."""
    team = Group.objects.create(name="payments")
    mia = User.objects.create_user("mia", password="pw-mia-12345")
    mia.groups.add(team)
    actor = Actor.for_user(mia)
    # Created by the system: mia creating it with these origins would wait for approval.
    api = services.create_api(
        actor=Actor.system("set-up"),
        slug="checkout",
        name="Checkout storefront and partner integrations",
        team=team,
        environment="production",
        allow_credentials=True,
        origins=[
            {
                "kind": "exact",
                "value": "https://shop.example.com",
                "note": "the storefront, every region",
            },
            {"kind": "wildcard", "value": "https://*.shop.example.com"},
            {
                "kind": "regex",
                "value": r"^https://pr-[0-9]+\.preview\.checkout-storefront\.example\.com$",
                "note": "pull request previews built by CI for the checkout team",
            },
            {
                "kind": "exact",
                "value": "https://partner-integrations.payments.example.org",
                "note": "https://tickets.example.com/browse/PAYMENTS-123456#comment-7890",
            },
        ],
        comment="launch",
    )
    services.update_api(actor=actor, api=api, max_age=600, comment="longer preflight cache")
    # A widening change to a production API waits for approval: the change request's pages.
    try:
        services.add_origin(
            actor=actor,
            api=api,
            value="https://spring-campaign-landing-page.marketing.example.com",
            note="spring campaign, until the end of the month",
            expires_at=timezone.now() + timedelta(days=7),
            comment="campaign",
        )
    except services.ChangeRequestPending as pending:
        change_request = pending.change_request
    else:
        raise AssertionError("a widening change to a production API applied at once")
    token, _ = services.issue_service_token(actor=actor, name="checkout-web", apis=[api])
    access, _ = services.issue_access_token(actor=actor, user=mia, name="deploy script")
    services.record_consumer_report(
        token_id=token.pk,
        token_name=token.name,
        apis=frozenset({api.slug}),
        payload={
            "instance": "checkout-web-7f9c8d6b5-x2x9z:1:a1b2c3",
            "service": "checkout-web",
            "heartbeat": [
                {
                    "api": api.slug,
                    "version": 1,
                    "mode": api.mode,
                    "age": 420.0,
                    "stale": True,
                    "source": "central",
                    "last_error": "central answered 503 Service Unavailable three times in a row",
                }
            ],
            "refused": [
                {
                    "api": api.slug,
                    "origin": "https://a-very-long-partner-subdomain.partner.example.net",
                    "reason": "origin-not-allowed",
                    "count": 12,
                    "sample": "origin is not allowed",
                }
            ],
        },
    )
    rule = api.origins.order_by("pk").first()
    assert rule is not None
    # Subscribed to an event populating never emits: nothing is sent during the tests.
    subscription, _ = webhook_services.create_subscription(
        actor=actor,
        name="payments alerts to the on-call channel of the checkout team",
        url="https://8.8.8.8/hooks/corsadmin/checkout-storefront-and-partner-integrations",
        team=team,
        event_types=["consumer.stale"],
    )
    samples = Samples(
        by_parameter={"slug": api.slug, "version": 1, "rule_id": rule.pk},
        by_url={
            ("api-token-revoke", "token_id"): token.pk,
            ("my-token-revoke", "token_id"): access.pk,
            ("change-request", "pk"): change_request.pk,
            ("change-request-step", "pk"): change_request.pk,
            ("change-request-step", "step"): "approve",
            ("team", "pk"): team.pk,
            ("detail", "pk"): subscription.pk,
            ("rotate", "pk"): subscription.pk,
            ("delete", "pk"): subscription.pk,
            ("redeliver", "pk"): subscription.pk,
            ("redeliver", "delivery_id"): 1,
        },
    )
    return mia, samples
