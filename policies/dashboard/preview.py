"""Look before saving: the would-be state of an API, its lint findings, and what changed.

The services lint again when they save (errors always block there); the dashboard lints the
would-be state first so that warnings a change introduces can be shown and confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from policies import services
from policies.audit import field_diff
from policies.dashboard.lintstatus import findings_for
from policies.documents import api_state
from policies.lint import Finding, Severity
from policies.models import Api, OriginRule, PolicyVersion


def _key(finding: Finding) -> tuple[str, str, str]:
    return (finding.rule, finding.field, finding.value)


def new_warnings(api: Api, state: dict[str, Any]) -> list[Finding]:
    """Warnings the would-be `state` has that the API's current policy does not.

    Raises `services.ValidationFailed` when the state has lint errors (they block a save).
    """
    findings = services.check_state(state, version=api.version + 1)
    current = {_key(finding) for finding in findings_for(api)}
    return [
        finding
        for finding in findings
        if finding.severity == Severity.WARNING and _key(finding) not in current
    ]


def settings_state(api: Api, changes: Mapping[str, Any], team_name: str | None) -> dict[str, Any]:
    state = api_state(api)
    state.update(changes)
    if team_name is not None:
        state["team"] = team_name
    return state


def origin_state(
    api: Api,
    *,
    kind: str,
    value: str,
    note: str,
    enabled: bool,
    expires_at: datetime | None,
    replacing: OriginRule | None = None,
) -> dict[str, Any]:
    """The API's state with one rule added, or with `replacing` changed to these values."""
    rules = [rule for rule in api.origins.all() if replacing is None or rule.pk != replacing.pk]
    candidate = OriginRule(
        api=api, kind=kind, value=value, note=note, enabled=enabled, expires_at=expires_at
    )
    return api_state(api, [*rules, candidate])


def changes_since(api: Api, version: int) -> list[dict[str, Any]]:
    """What changed in `api` since `version` (for a stale write), as field-diff entries."""
    then = PolicyVersion.objects.filter(api=api, version=version).first()
    if then is None:
        return []
    return field_diff(then.state, api_state(api))


def warning_messages(findings: Iterable[Finding]) -> list[str]:
    return [f"{finding.message} {finding.fix}" for finding in findings]
