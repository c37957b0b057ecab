"""Prometheus metrics of a consumer, as a collector the service registers.

    from prometheus_client import REGISTRY
    from policies.consumer.metrics import PolicyClientCollector
    REGISTRY.register(PolicyClientCollector(middleware.client))

Everything is read from the client when the service is scraped: the request path gains no
work (allowed requests are not counted; refusals already are, for telemetry). Needs the
``prometheus-client`` package (``pip install 'corsadmin[metrics]'``); no Django import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from policies.consumer.client import PolicyClient

__all__ = ["PolicyClientCollector"]


class PolicyClientCollector(Collector):
    """Metrics of one ``PolicyClient`` (the one a middleware holds as ``.client``):

    - ``corsadmin_consumer_policy_version{api}``: the version enforced (absent: none held);
    - ``corsadmin_consumer_policy_age_seconds{api}``: since central last confirmed it;
    - ``corsadmin_consumer_policy_stale{api}``: 1 when stale or missing, else 0;
    - ``corsadmin_consumer_refresh_failures_total{api}``: failed fetches and refused documents;
    - ``corsadmin_consumer_refused_total{api,code}``: refused requests by ``Decision.code``.
    """

    def __init__(self, client: PolicyClient) -> None:
        self.client = client

    def collect(self) -> Iterator[Metric]:
        health = self.client.health()["apis"]
        version = GaugeMetricFamily(
            "corsadmin_consumer_policy_version", "Policy version enforced.", labels=["api"]
        )
        age = GaugeMetricFamily(
            "corsadmin_consumer_policy_age_seconds",
            "Seconds since central last confirmed the policy held.",
            labels=["api"],
        )
        stale = GaugeMetricFamily(
            "corsadmin_consumer_policy_stale",
            "1 when the policy is stale or missing.",
            labels=["api"],
        )
        for api, state in health.items():
            if state["version"] is not None:
                version.add_metric([api], state["version"])
            if state["age"] is not None:
                age.add_metric([api], state["age"])
            stale.add_metric([api], 1 if state["stale"] else 0)
        yield version
        yield age
        yield stale
        failures = CounterMetricFamily(
            "corsadmin_consumer_refresh_failures",
            "Failed refreshes (fetch errors and refused documents).",
            labels=["api"],
        )
        for api in health:
            failures.add_metric([api], self.client.refresh_failures.get(api, 0))
        yield failures
        refused = CounterMetricFamily(
            "corsadmin_consumer_refused",
            "Requests refused, by the engine's Decision.code.",
            labels=["api", "code"],
        )
        for (api, code), count in sorted(self.client.refusals.totals().items()):
            refused.add_metric([api, code], count)
        yield refused
