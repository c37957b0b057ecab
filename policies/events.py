"""Events other systems may subscribe to (webhooks). A placeholder until webhooks land.

`policies.change_requests` calls `emit` inside the transaction of each change-request step
and of a break-glass change, right after the step's audit event.
"""

from __future__ import annotations

from typing import Any

from policies.models import Api


def emit(event_type: str, *, api: Api, payload: dict[str, Any]) -> None:
    """Announce `event_type` about `api` with a JSON-serialisable `payload`.

    Event types: `change_request.opened`, `change_request.approved`,
    `change_request.rejected`, `change_request.applied`, `change.break_glass`. Called inside
    the transaction of the change; an implementation must not send anything before it
    commits (an outbox row, or `transaction.on_commit`). Does nothing yet.
    """
    return None
