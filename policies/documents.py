"""Compile an API's stored state into its policy document (the contract with consumers).

`api_state` is the editable state of an API (what a version snapshots and a rollback
restores); `document_from_state` turns a state into the schema-1 document of design.md.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC as datetime_utc
from datetime import datetime
from typing import Any

from django.utils import timezone

from policies.models import Api, OriginRule

SCHEMA = 1

EDITABLE_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "environment",
    "mode",
    "paths",
    "methods",
    "request_headers",
    "expose_headers",
    "allow_credentials",
    "max_age",
    "allow_private_network",
    "allow_null",
    "allow_all",
)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(datetime_utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp(moment: datetime | None) -> str | None:
    """A moment as documents write it: UTC, to the second (`2026-01-31T12:00:00Z`)."""
    return _iso(moment)


def rule_state(rule: OriginRule) -> dict[str, Any]:
    return {
        "kind": rule.kind,
        "value": rule.value,
        "note": rule.note,
        "enabled": rule.enabled,
        "expires_at": _iso(rule.expires_at),
    }


def api_state(api: Api, rules: list[OriginRule] | None = None) -> dict[str, Any]:
    if rules is None:
        rules = list(api.origins.all())
    state: dict[str, Any] = {"slug": api.slug, "team": api.team.name}
    state.update({field: getattr(api, field) for field in EDITABLE_FIELDS})
    state["origins"] = sorted(
        (rule_state(rule) for rule in rules), key=lambda r: (r["kind"], r["value"])
    )
    return state


def _active(rule: dict[str, Any], now: datetime) -> bool:
    if not rule["enabled"]:
        return False
    expires = rule.get("expires_at")
    # An expired rule stops applying at once, even before the expiry task records it.
    return expires is None or expires > _iso(now)


def document_from_state(
    state: dict[str, Any], *, version: int, updated_at: datetime, now: datetime | None = None
) -> dict[str, Any]:
    now = now or timezone.now()
    active = [rule for rule in state["origins"] if _active(rule, now)]

    def values(kind: str) -> list[str]:
        return sorted({rule["value"] for rule in active if rule["kind"] == kind})

    return {
        "schema": SCHEMA,
        "api": state["slug"],
        "version": version,
        "updated_at": _iso(updated_at),
        "mode": state["mode"],
        "paths": state["paths"] or None,
        "origins": {
            "exact": values("exact"),
            "wildcard": values("wildcard"),
            "regex": values("regex"),
            "allow_all": state["allow_all"],
            "allow_null": state["allow_null"],
        },
        "methods": sorted(set(state["methods"])),
        "request_headers": sorted({h.lower() for h in state["request_headers"]}),
        "expose_headers": sorted({h.lower() for h in state["expose_headers"]}),
        "allow_credentials": state["allow_credentials"],
        "max_age": state["max_age"],
        "allow_private_network": state["allow_private_network"],
    }


def compile_document(api: Api, *, now: datetime | None = None) -> dict[str, Any]:
    return document_from_state(
        api_state(api), version=api.version, updated_at=api.updated_at, now=now
    )


def document_bytes(document: dict[str, Any]) -> bytes:
    """The canonical serialisation: the ETag is a hash of exactly these bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
