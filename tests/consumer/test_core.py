"""The hot path (outcomes memoised per policy version, bounded), logging, configuration."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from policies.consumer import core
from policies.consumer.config import ConfigurationError, Settings
from policies.consumer.core import ADD, ANSWER, PASS, PolicyOutcomes
from tests.consumer.conftest import EVIL, ORIGIN, FakeCentral, closed_port_url, document

ACAO = "Access-Control-Allow-Origin"


def test_outcome__same_origin_and_version__the_same_ready_object(
    central: FakeCentral, make_client: Any
) -> None:
    # Given a client holding v1
    client = make_client(central.url)
    first = client.outcome("GET", "/api/a", ORIGIN)
    # When the same origin asks again (any method, any covered path)
    again = client.outcome("POST", "/api/b", ORIGIN)
    # Then it is the same precomputed outcome: headers ready for each framework
    assert first is again
    assert first.action == ADD
    assert dict(first.headers)[ACAO] == ORIGIN
    assert first.store["access-control-allow-origin"] == (ACAO, ORIGIN)
    assert (b"access-control-allow-origin", ORIGIN.encode()) in first.headers_bytes
    assert first.vary == "Origin"
    # And a new version gets new outcomes
    central.publish(document(version=2))
    assert client.refresh()
    assert client.outcome("GET", "/api/a", ORIGIN) is not first


def test_outcome__preflight__keyed_by_method_headers_and_private_network(
    central: FakeCentral, make_client: Any
) -> None:
    client = make_client(central.url)
    ok = client.outcome("OPTIONS", "/api/a", ORIGIN, "PUT", "content-type")
    assert ok is not None
    assert (ok.action, ok.status, ok.status_line) == (ANSWER, 200, "200 OK")
    header = client.outcome("OPTIONS", "/api/a", ORIGIN, "PUT", "x-secret")
    assert header is not None
    assert (header.status, header.code, header.refused) == (
        403,
        "header-not-allowed",
        "header-not-allowed",
    )
    pna = client.outcome("OPTIONS", "/api/a", ORIGIN, "PUT", None, "true")
    assert pna is not None
    assert pna.code == "private-network-not-allowed"
    assert client.outcome("OPTIONS", "/api/a", ORIGIN, "PUT", "content-type") is ok
    # Counted by code, never by the engine's words.
    refused = {(r["origin"], r["reason"]) for r in client.report_payload()["refused"]}
    assert refused == {
        (ORIGIN, "header-not-allowed"),
        (ORIGIN, "private-network-not-allowed"),
    }


def test_outcome__report_only__passes_and_reports(central: FakeCentral, make_client: Any) -> None:
    central.publish(document(mode="report-only"))
    client = make_client(central.url)
    refused = client.outcome("GET", "/api/a", EVIL)
    allowed = client.outcome("OPTIONS", "/api/a", ORIGIN, "PUT")
    assert (refused.action, refused.refused) == (PASS, "origin-not-allowed")
    assert (allowed.action, allowed.refused) == (PASS, None)


def test_random_origins__memos_and_counters_stay_bounded(
    central: FakeCentral, make_client: Any
) -> None:
    # Given a client, When 3 x MEMO_SIZE requests come from random origins
    client = make_client(central.url)
    client.ensure_started()
    rng = random.Random(7)
    gets = central.policy_gets()
    for _ in range(3 * core.MEMO_SIZE):
        origin = f"https://{rng.getrandbits(64):x}.example.org"
        client.outcome("GET", "/api/a", origin)
        client.outcome("OPTIONS", "/api/a", origin, "PUT")
    # Then every memo and counter holds at most its bound, and no request fetched anything
    outcomes = client.snapshot().outcomes[0]
    assert isinstance(outcomes, PolicyOutcomes)
    actual, preflight = outcomes.memo_sizes()
    assert 0 < actual <= core.MEMO_SIZE
    assert 0 < preflight <= core.MEMO_SIZE
    items, dropped = client.refusals.drain()
    assert len(items) == client.refusals.max_keys
    assert sum(item["count"] for item in items) + dropped == 6 * core.MEMO_SIZE
    assert central.policy_gets() == gets


def test_applied_version__logged_once__fallback_logged_once(
    central: FakeCentral, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="policies.consumer"):
        # Given a client that applied v1, confirmed by central three more times
        client = make_client(central.url)
        client.ensure_started()
        for _ in range(3):
            assert client.refresh()
        # When central goes down for three rounds, then comes back with v2
        central.status = 503
        for _ in range(3):
            assert not client.refresh()
        central.status = None
        central.publish(document(version=2))
        assert client.refresh()
    text = caplog.text
    # Then one line per applied version (api, version, source), one per fallback
    assert text.count("applied billing v1 (enforce) from central") == 1
    assert text.count("applied billing v2 (enforce) from central") == 1
    assert text.count("falling back to v1 from central") == 1
    assert text.count("central answers again for billing") == 1


def test_cold_start_with_files__logged_as_a_fallback(
    make_client: Any, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    from tests.consumer.conftest import signed_entry

    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json.dumps([signed_entry(document(version=3))]))
    with caplog.at_level(logging.INFO, logger="policies.consumer"):
        client = make_client(closed_port_url(), bootstrap_file=bootstrap, startup_wait=0)
        client.ensure_started()
    assert "applied billing v3 (enforce) from bootstrap" in caplog.text
    assert "starting billing with v3 from the bootstrap until central answers" in caplog.text


def test_settings__from_env__every_type_parsed() -> None:
    settings = Settings.from_env(
        {
            "CORSADMIN_URL": "https://central.internal",
            "CORSADMIN_TOKEN": "cors_x",
            "CORSADMIN_APIS": "billing, search,billing",
            "CORSADMIN_INTERVAL": "15",
            "CORSADMIN_VERIFY_SIGNATURES": "false",
            "CORSADMIN_MAX_DOCUMENT_BYTES": "65536",
            "CORSADMIN_STARTUP_WAIT": "2.5",
            "CORSADMIN_HEALTH_PATH": "/-/cors",
            "CORSADMIN_CACHE_FILE": "",
            "OTHER": "ignored",
        }
    )
    assert settings.apis == ("billing", "search")
    assert settings.interval == 15.0
    assert settings.verify_signatures is False
    assert settings.max_document_bytes == 65536
    assert settings.startup_wait == 2.5
    assert settings.health_path == "/-/cors"
    assert settings.cache_file is None
    assert settings.timeout == 2.0  # a default


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CORSADMIN_APIS": "a", "CORSADMIN_URL": "x"}, "CORSADMIN_URL: 'x' is not an http"),
        (
            {
                "CORSADMIN_APIS": "a",
                "CORSADMIN_URL": "http://x",
                "CORSADMIN_TOKEN": "t",
                "CORSADMIN_VERIFY_SIGNATURES": "perhaps",
            },
            "CORSADMIN_VERIFY_SIGNATURES: 'perhaps' is not a boolean",
        ),
        (
            {
                "CORSADMIN_APIS": "a",
                "CORSADMIN_URL": "http://x",
                "CORSADMIN_TOKEN": "t",
                "CORSADMIN_VERIFY_SIGNATURES": "0",
                "CORSADMIN_MAX_DOCUMENT_BYTES": "1.5",
            },
            "CORSADMIN_MAX_DOCUMENT_BYTES",
        ),
        (
            {
                "CORSADMIN_APIS": "a",
                "CORSADMIN_URL": "http://x",
                "CORSADMIN_TOKEN": "t",
                "CORSADMIN_VERIFY_SIGNATURES": "0",
                "CORSADMIN_HEALTH_PATH": "health",
            },
            "CORSADMIN_HEALTH_PATH: must start with /",
        ),
    ],
)
def test_settings__bad_values__error_names_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(environ)


def test_settings__unknown_keyword__refused() -> None:
    with pytest.raises(ConfigurationError, match="intervall: unknown setting"):
        Settings.from_keywords(apis="a", url="http://x", token="t", intervall=5)
