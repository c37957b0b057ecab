"""What is posted for an event, per subscription format (pure Python, no Django).

- `standard`: the Standard Webhooks payload `{"type", "timestamp", "data"}` as compact JSON;
  the signature headers are added by `webhooks.services`.
- `slack`: `{"text": ...}` for a Slack incoming webhook: one readable line or a few.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any


def standard_body(*, event_type: str, timestamp: str, data: Mapping[str, Any]) -> bytes:
    payload = {"type": event_type, "timestamp": timestamp, "data": data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def _escape(text: Any) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _api(data: Mapping[str, Any]) -> str:
    api = data.get("api")
    if isinstance(api, Mapping):
        return f"*{_escape(api.get('slug', '?'))}*"
    return f"*{_escape(api)}*" if api else "an API"


def _diff_lines(diff: Any, limit: int = 8) -> list[str]:
    lines: list[str] = []
    if not isinstance(diff, list):
        return lines
    for change in diff:
        if not isinstance(change, Mapping):
            continue
        field = _escape(change.get("field", "?"))
        if "added" in change or "removed" in change:
            for item in change.get("added") or []:
                lines.append(f"+ {field}: {_escape(_item(item))}")
            for item in change.get("removed") or []:
                lines.append(f"- {field}: {_escape(_item(item))}")
        else:
            before, after = change.get("before"), change.get("after")
            lines.append(f"~ {field}: {_escape(before)} → {_escape(after)}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"… and {len(lines) - limit} more"]
    return lines


def _item(item: Any) -> str:
    if isinstance(item, Mapping) and "value" in item:
        return f"{item.get('value')}" + (f" ({item['kind']})" if item.get("kind") else "")
    return str(item)


def _reason(data: Mapping[str, Any]) -> str:
    reason = data.get("reason") or data.get("comment")
    return f" — “{_escape(reason)}”" if reason else ""


def _published(data: Mapping[str, Any]) -> str:
    head = (
        f":lock: {_api(data)} version {_escape(data.get('version'))} published "
        f"by {_escape(data.get('actor', 'someone'))}{_reason(data)}"
    )
    lines = _diff_lines(data.get("diff"))
    return "\n".join([head, *lines]) if lines else head


def _token(verb: str) -> Callable[[Mapping[str, Any]], str]:
    def render(data: Mapping[str, Any]) -> str:
        token = data.get("token") if isinstance(data.get("token"), Mapping) else {}
        assert isinstance(token, Mapping)
        apis = ", ".join(_escape(slug) for slug in data.get("apis") or []) or "no API"
        return (
            f":key: Token {_escape(token.get('name', '?'))} ({_escape(token.get('prefix', ''))}…) "
            f"{verb} by {_escape(data.get('actor', 'someone'))} for {apis}{_reason(data)}"
        )

    return render


def _stale(data: Mapping[str, Any]) -> str:
    consumer = data.get("consumer") if isinstance(data.get("consumer"), Mapping) else {}
    assert isinstance(consumer, Mapping)
    return (
        f":warning: A consumer of {_api(data)} is stale: {_escape(consumer.get('service', '?'))} "
        f"({_escape(consumer.get('instance', '?'))}) holds version "
        f"{_escape(consumer.get('version'))} — {_escape(data.get('why', ''))}"
    )


def _spike(data: Mapping[str, Any]) -> str:
    return (
        f":no_entry: {_escape(data.get('origin'))} was refused {_escape(data.get('count'))} "
        f"times by consumers of {_api(data)} in the last {_escape(data.get('window_seconds'))} s "
        "(a new origin: add it if it is yours)"
    )


def _audit(data: Mapping[str, Any]) -> str:
    return (
        ":rotating_light: The audit log's hash chain is broken at event "
        f"#{_escape(data.get('sequence'))}: {_escape(data.get('problem'))}"
    )


def _change_request(verb: str) -> Callable[[Mapping[str, Any]], str]:
    def render(data: Mapping[str, Any]) -> str:
        request = data.get("change_request")
        number = f" #{_escape(request.get('id'))}" if isinstance(request, Mapping) else ""
        return (
            f":memo: Change request{number} on {_api(data)} {verb} by "
            f"{_escape(data.get('actor', 'someone'))}{_reason(data)}"
        )

    return render


_RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "policy.published": _published,
    "token.issued": _token("issued"),
    "token.revoked": _token("revoked"),
    "consumer.stale": _stale,
    "origin.refused_spike": _spike,
    "audit.verify_failed": _audit,
    "change_request.opened": _change_request("opened"),
    "change_request.approved": _change_request("approved"),
    "change_request.rejected": _change_request("rejected"),
    "change_request.applied": _change_request("applied"),
    "change.break_glass": lambda data: (
        f":fire: Break-glass change on {_api(data)} by {_escape(data.get('actor', 'someone'))}"
        f"{_reason(data)}"
    ),
}


def slack_text(event_type: str, data: Mapping[str, Any]) -> str:
    render = _RENDERERS.get(event_type)
    if render is None:
        return f"corsadmin: {_escape(event_type)} on {_api(data)}"
    return render(data)


def slack_body(*, event_type: str, data: Mapping[str, Any]) -> bytes:
    return json.dumps({"text": slack_text(event_type, data)}, ensure_ascii=False).encode()
