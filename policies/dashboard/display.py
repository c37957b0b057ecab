"""What templates show: readable diffs, values and durations (computed in the views)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from policies.models import AuditAction, AuditEvent

_LABELS = {
    "allow_all": "allow all origins",
    "allow_credentials": "credentials",
    "allow_null": "null origin",
    "allow_private_network": "private network",
    "expose_headers": "expose headers",
    "request_headers": "request headers",
    "max_age": "max-age",
    "expires_at": "expires",
}
# Above this many rows an event's diff is folded (e.g. an API created with all its fields).
FOLD_AFTER = 6


def label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " "))


def show(value: Any) -> str:
    """A stored value as a person reads it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(show(item) for item in value) or "(none)"
    if isinstance(value, Mapping):
        return item(value)
    if value == "":
        return "(empty)"
    return str(value)


def item(value: Any) -> str:
    """A list item; an origin rule as "value (kind) — note, until …, disabled"."""
    if not isinstance(value, Mapping) or "value" not in value:
        return show(value)
    text = str(value["value"])
    if value.get("kind") and value["kind"] != "exact":
        text += f" ({value['kind']})"
    extras = []
    if value.get("note"):
        extras.append(str(value["note"]))
    if value.get("expires_at"):
        extras.append(f"until {value['expires_at']}")
    if value.get("enabled") is False:
        extras.append("disabled")
    return text + (" — " + ", ".join(extras) if extras else "")


def _rows(changes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for change in changes:
        name = str(change.get("field", ""))
        if "added" in change or "removed" in change:
            rows.append(
                {
                    "field": name,
                    "label": label(name),
                    "list": True,
                    "added": [item(x) for x in change.get("added") or []],
                    "removed": [item(x) for x in change.get("removed") or []],
                }
            )
        else:
            rows.append(
                {
                    "field": name,
                    "label": label(name),
                    "list": False,
                    "before": show(change.get("before")),
                    "after": show(change.get("after")),
                }
            )
    return rows


def diff_rows(changes: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Field-diff entries (policies.audit.field_diff) as rows for the diff template."""
    return _rows(changes or [])


def event_rows(event: AuditEvent) -> list[dict[str, Any]]:
    """An audit event's change as rows: an origin added or removed is one coloured line."""
    if event.object_type == "origin" and event.action in (
        AuditAction.ORIGIN_ADDED,
        AuditAction.ORIGIN_REMOVED,
        AuditAction.ORIGIN_EXPIRED,
    ):
        added = [item(event.after)] if event.after else []
        removed = [item(event.before)] if event.before else []
        return [
            {
                "field": "origins",
                "label": "origin",
                "list": True,
                "added": added,
                "removed": removed,
            }
        ]
    if event.action == AuditAction.API_DELETED:
        return [
            {
                "field": "api",
                "label": "API",
                "list": False,
                "before": event.api_slug,
                "after": "deleted",
            }
        ]
    rows = _rows(event.diff or [])
    if event.action == AuditAction.API_CREATED:
        # Created: the settings as plain values, nothing "before".
        for row in rows:
            if not row["list"]:
                row["before"] = ""
    return rows


def seconds(value: int | None) -> str:
    """A duration in seconds as "45 s", "10 min", "2 h", "1 h 30 min"."""
    if value is None:
        return "—"
    total = int(value)
    if total < 120:
        return f"{total} s"
    hours, rest = divmod(total, 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours} h {minutes} min"
    if hours:
        return f"{hours} h"
    return f"{minutes} min"


def ago(elapsed: timedelta) -> str:
    """How long ago, for a heartbeat: "just now", "45 s ago", "3 min ago", "2 h ago"."""
    total = max(0, round(elapsed.total_seconds()))
    if total < 5:
        return "just now"
    return f"{seconds(total)} ago"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False)


def settings_summary(api: Any) -> list[tuple[str, str]]:
    """An API's settings as (label, value) rows, for people who may not edit them."""
    return [
        ("Paths", api.paths or "(every path)"),
        ("Methods", show(api.methods)),
        ("Request headers", show(api.request_headers)),
        ("Expose headers", show(api.expose_headers)),
        ("Credentials", show(api.allow_credentials)),
        ("Max-age", f"{api.max_age} s"),
        ("Private network", show(api.allow_private_network)),
        ("Null origin", show(api.allow_null)),
        ("Allow all origins", show(api.allow_all)),
    ]
