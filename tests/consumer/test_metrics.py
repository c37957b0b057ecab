"""The consumer's Prometheus collector: what a service scraping itself sees."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from policies.consumer.metrics import PolicyClientCollector
from tests.consumer.conftest import EVIL, ORIGIN, FakeCentral, closed_port_url, document


def _scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }


def test_collector__requests_and_refreshes__version_staleness_refusals_failures(
    central: FakeCentral, make_client: Any
) -> None:
    # Given a client holding version 1, registered with a registry the service exposes
    client = make_client(central.url)
    client.ensure_started()
    registry = CollectorRegistry()
    registry.register(PolicyClientCollector(client))
    billing = (("api", "billing"),)
    scraped = _scrape(registry)
    assert scraped[("corsadmin_consumer_policy_version", billing)] == 1
    assert scraped[("corsadmin_consumer_policy_stale", billing)] == 0
    assert scraped[("corsadmin_consumer_refresh_failures_total", billing)] == 0
    # When two requests from an unlisted origin are refused, one from a listed one allowed
    client.outcome("GET", "/api/a", EVIL)
    client.outcome("GET", "/api/a", EVIL)
    client.outcome("GET", "/api/a", ORIGIN)
    # ... and central fails one refresh (driven by hand: the background refresher stopped)
    client.close()
    central.status = 503
    assert not client.refresh()
    # Then the refusals are counted by code (and survive telemetry draining its counters),
    # the failure is counted, and the version held is still 1
    client.refusals.drain()
    scraped = _scrape(registry)
    refused = (
        "corsadmin_consumer_refused_total",
        (("api", "billing"), ("code", "origin-not-allowed")),
    )
    assert scraped[refused] == 2
    assert scraped[("corsadmin_consumer_refresh_failures_total", billing)] == 1
    assert scraped[("corsadmin_consumer_policy_version", billing)] == 1
    # When central answers with version 2 again, the new version shows
    central.status = None
    central.publish(document(version=2))
    assert client.refresh()
    assert _scrape(registry)[("corsadmin_consumer_policy_version", billing)] == 2


def test_collector__nothing_held__stale_and_no_version(make_client: Any) -> None:
    # Given a client whose central cannot be reached, with no document (cold start)
    client = make_client(closed_port_url(), startup_wait=0)
    registry = CollectorRegistry()
    registry.register(PolicyClientCollector(client))
    # Then it is reported stale, with no version and no age sample
    scraped = _scrape(registry)
    assert scraped[("corsadmin_consumer_policy_stale", (("api", "billing"),))] == 1
    assert not any(name == "corsadmin_consumer_policy_version" for name, _ in scraped)
    assert not any(name == "corsadmin_consumer_policy_age_seconds" for name, _ in scraped)
