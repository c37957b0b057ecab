"""Writing and verifying the audit log's hash chain.

Only `policies.services` (and `archive_audit`) call `record`; it must run inside the
transaction of the change it records, so a change without its event cannot commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC as datetime_utc
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from policies.actors import Actor
from policies.models import AuditAction, AuditChainHead, AuditEvent

GENESIS = "0" * 64
HASHED_FIELDS: tuple[str, ...] = (
    "sequence",
    "timestamp",
    "actor_type",
    "actor_id",
    "actor_name",
    "actor_ip",
    "user_agent",
    "request_id",
    "action",
    "api_id",
    "api_slug",
    "api_version",
    "object_type",
    "object_id",
    "object_repr",
    "before",
    "after",
    "diff",
    "comment",
    "prev_digest",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(datetime_utc).isoformat(timespec="microseconds")
    return value


def compute_digest(event: AuditEvent) -> str:
    content = {name: _canonical(getattr(event, name)) for name in HASHED_FIELDS}
    raw = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def field_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Field-level changes; list fields (origins, methods, headers) as added/removed items."""
    before = before or {}
    after = after or {}
    changes: list[dict[str, Any]] = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if isinstance(old, list) or isinstance(new, list):
            old_items = [json.dumps(x, sort_keys=True) for x in (old or [])]
            new_items = [json.dumps(x, sort_keys=True) for x in (new or [])]
            changes.append(
                {
                    "field": name,
                    "added": [json.loads(x) for x in new_items if x not in old_items],
                    "removed": [json.loads(x) for x in old_items if x not in new_items],
                }
            )
        else:
            changes.append({"field": name, "before": old, "after": new})
    return changes


def record(
    *,
    actor: Actor,
    action: AuditAction,
    api_id: int | None = None,
    api_slug: str = "",
    api_version: int | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    comment: str = "",
) -> AuditEvent:
    if not connection.in_atomic_block:
        raise RuntimeError("audit events are written inside the transaction of their change")
    # Locking the single head row serialises writers, so two events never share a parent.
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(
        id=1, defaults={"sequence": 0, "digest": GENESIS}
    )
    # Timestamps never go backwards along the chain (a clock stepped back by NTP would
    # otherwise break the "date range = sequence range" that the audit filters rely on).
    now = timezone.now()
    previous = (
        AuditEvent.objects.filter(sequence=head.sequence)
        .values_list("timestamp", flat=True)
        .first()
    )
    event = AuditEvent(
        sequence=head.sequence + 1,
        timestamp=max(now, previous) if previous else now,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name[:150],
        actor_ip=actor.ip,
        user_agent=actor.user_agent[:512],
        request_id=actor.request_id[:64],
        action=action,
        api_id=api_id,
        api_slug=api_slug,
        api_version=api_version,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:1000],
        before=before,
        after=after,
        diff=field_diff(before, after),
        comment=comment,
        prev_digest=head.digest,
    )
    event.digest = compute_digest(event)
    event.save(force_insert=True)
    AuditChainHead.objects.filter(id=1).update(sequence=event.sequence, digest=event.digest)
    return event


@dataclass(frozen=True, slots=True)
class ChainProblem:
    sequence: int
    problem: str


def _events_in_order(batch: int = 2000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        page = list(AuditEvent.objects.filter(sequence__gt=last).order_by("sequence")[:batch])
        if not page:
            return
        yield from page
        last = page[-1].sequence


def verify_chain() -> tuple[int, ChainProblem | None]:
    """Walk the chain from its anchor; return (events checked, first problem or None)."""
    head = AuditChainHead.objects.filter(id=1).first()
    anchor_sequence = head.anchor_sequence if head else 0
    expected_prev = head.anchor_digest if head else GENESIS
    expected_sequence = anchor_sequence + 1
    checked = 0
    for event in _events_in_order():
        if event.sequence != expected_sequence:
            return checked, ChainProblem(
                event.sequence,
                f"event #{expected_sequence} is missing (the next stored event is "
                f"#{event.sequence}): an event was removed",
            )
        if event.prev_digest != expected_prev:
            return checked, ChainProblem(
                event.sequence,
                f"event #{event.sequence} does not follow the previous event: an event "
                "was removed or inserted before it",
            )
        if compute_digest(event) != event.digest:
            return checked, ChainProblem(
                event.sequence, f"event #{event.sequence} was altered after it was written"
            )
        expected_prev = event.digest
        expected_sequence += 1
        checked += 1
    if head and head.sequence != expected_sequence - 1:
        return checked, ChainProblem(
            head.sequence,
            f"the log ends at #{expected_sequence - 1} but #{head.sequence} was written: "
            "the newest events were removed",
        )
    return checked, None
