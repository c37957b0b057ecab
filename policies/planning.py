"""What a change does, before it is applied: does it widen access, how many approvals, rebase.

Pure Python (no Django): the services (`policies.services`, `policies.change_requests`) call
these on the *state* dicts they snapshot into versions (`policies.documents.api_state`):
``{"slug", "team", "name", ..., "mode", "paths", "methods": [...], "origins": [{"kind",
"value", "note", "enabled", "expires_at": ISO-8601 or None}]}``.

"Widening" follows the CORS protocol (WHATWG Fetch, `cors-rules.md`): anything that lets a
browser send or read more cross-origin than before. When it cannot be proved that a change
narrows (a `paths` regex replaced by another one), it counts as widening: nothing falls open.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

LIST_FIELDS = ("methods", "request_headers", "expose_headers")
SWITCHES = {
    "allow_credentials": "credentials allowed",
    "allow_all": "every origin allowed (allow-all)",
    "allow_null": "the origin null allowed",
    "allow_private_network": "private network access allowed",
}
LIST_LABELS = {
    "methods": "method",
    "request_headers": "request header",
    "expose_headers": "exposed header",
}


class ApprovalsConfigError(ValueError):
    """A malformed approval setting (`CORSADMIN_APPROVALS`)."""


def parse_approvals(raw: str, *, known: tuple[str, ...]) -> dict[str, int]:
    """`"production=1,staging=0"` -> `{"production": 1, "staging": 0}`.

    Environments not named need no approval (0). Raises `ApprovalsConfigError` for an unknown
    environment name, a missing `=` or a count that is not a whole number from 0 to 10.
    """
    result: dict[str, int] = {}
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, count = part.partition("=")
        name, count = name.strip(), count.strip()
        if not sep or name not in known:
            raise ApprovalsConfigError(
                f"{part!r}: expected <environment>=<approvals> with one of {', '.join(known)}"
            )
        if not count.isdigit() or int(count) > 10:
            raise ApprovalsConfigError(f"{part!r}: approvals must be a whole number 0-10")
        result[name] = int(count)
    return result


def approvals_needed(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], approvals: Mapping[str, int]
) -> int:
    """How many approvals a widening change between these states needs: the stricter of the
    environment it leaves and the one it lands in (so moving an API out of production, or
    into it while widening, cannot skip the review)."""
    environments = {after["environment"]}
    if before is not None:
        environments.add(before["environment"])
    return max(approvals.get(name, 0) for name in environments)


def _iso_now(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _active_origins(state: Mapping[str, Any], now: datetime) -> dict[tuple[str, str], Any]:
    """Rules that apply at `now`, keyed by (kind, value), with their expiry (None = never)."""
    moment = _iso_now(now)
    active: dict[tuple[str, str], Any] = {}
    for rule in state.get("origins", []):
        expires = rule.get("expires_at")
        if rule.get("enabled") and (expires is None or expires > moment):
            active[(rule["kind"], rule["value"])] = expires
    return active


def widening_reasons(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    now: datetime,
    approvals: Mapping[str, int] | None = None,
) -> list[str]:
    """Every way `after` lets browsers do more than `before`, in words; [] when it does not.

    Counted as widening: an origin rule added, re-enabled or with its expiry extended or
    removed (a new wildcard or regex is a new rule); credentials, allow-all, `null` or private
    network switched on; a method, request header or exposed header added; `paths` made to
    cover every path or replaced by another regex; mode leaving `enforce`, or entering
    `report-only` (which leaves responses as the application made them); the environment
    changed to one needing fewer `approvals` (any change, when `approvals` is not given).
    """
    reasons: list[str] = []
    old_origins, new_origins = _active_origins(before, now), _active_origins(after, now)
    for key, expires in sorted(new_origins.items()):
        kind, value = key
        if key not in old_origins:
            reasons.append(f"{kind} origin {value} allowed")
        elif expires is not None and old_origins[key] is None:
            pass  # now expires where it did not: narrower
        elif old_origins[key] is not None and (expires is None or expires > old_origins[key]):
            reasons.append(f"{kind} origin {value} allowed for longer")
    for name, label in SWITCHES.items():
        if after.get(name) and not before.get(name):
            reasons.append(label)
    for name in LIST_FIELDS:
        old = {str(item).lower() for item in before.get(name, [])}
        for item in after.get(name, []):
            if str(item).lower() not in old:
                reasons.append(f"{LIST_LABELS[name]} {item} added")
    old_paths, new_paths = before.get("paths") or "", after.get("paths") or ""
    if old_paths != new_paths and old_paths:
        # From "every path" to a regex narrows; anything else cannot be proved narrower.
        reasons.append(
            "paths now cover every path"
            if not new_paths
            else f"paths changed from {old_paths} to {new_paths}"
        )
    old_mode, new_mode = before.get("mode"), after.get("mode")
    if old_mode != new_mode and (old_mode == "enforce" or new_mode == "report-only"):
        reasons.append(f"mode changed from {old_mode} to {new_mode}")
    old_env, new_env = before.get("environment"), after.get("environment")
    if old_env != new_env and (
        approvals is None or approvals.get(str(old_env), 0) > approvals.get(str(new_env), 0)
    ):
        reasons.append(
            f"environment changed from {before.get('environment')} to {after.get('environment')}"
        )
    return reasons


def _origin_key(rule: Mapping[str, Any]) -> tuple[str, str]:
    return (rule["kind"], rule["value"])


def rebase(
    base: Mapping[str, Any], proposed: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """Apply the change `base -> proposed` to `current` (a three-way merge, field by field).

    Used when a change request's base version is stale (someone changed the API since), and
    to fold a further write into an open request. Fields the change did not touch keep their
    current value; list fields get the items it added and lose those it removed; origin rules
    (keyed by kind and value) likewise, and a rule it edited takes the edited form if the rule
    still exists. Returns a new state; the arguments are not modified.
    """
    result = copy.deepcopy(dict(current))
    for name, value in proposed.items():
        if name == "origins" or name in LIST_FIELDS:
            continue
        if base.get(name) != value:
            result[name] = copy.deepcopy(value)
    for name in LIST_FIELDS:
        old, new = list(base.get(name, [])), list(proposed.get(name, []))
        removed = [item for item in old if item not in new]
        added = [item for item in new if item not in old]
        merged = [item for item in current.get(name, []) if item not in removed]
        merged += [item for item in added if item not in merged]
        result[name] = sorted(merged)
    base_rules = {_origin_key(rule): rule for rule in base.get("origins", [])}
    new_rules = {_origin_key(rule): rule for rule in proposed.get("origins", [])}
    rules = {_origin_key(rule): dict(rule) for rule in current.get("origins", [])}
    for key in base_rules.keys() - new_rules.keys():
        rules.pop(key, None)
    for key, rule in new_rules.items():
        if key not in base_rules or (base_rules[key] != rule and key in rules):
            rules[key] = dict(rule)
    result["origins"] = sorted(rules.values(), key=lambda rule: _origin_key(rule))
    return result
