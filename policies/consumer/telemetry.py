"""Telemetry: counts of refused requests per (api, origin, code), in bounded memory, and
the report sent to central's ``POST /api/v1/reports`` with the heartbeat.

A refusal is counted by the engine's stable ``Decision.code`` (``origin-not-allowed``,
``method-not-allowed``, ...), never by its English reason. No Django import.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MAX_ORIGIN_CHARS", "MAX_REFUSED_KEYS", "Refusals"]

MAX_REFUSED_KEYS: Final = 500
"""Distinct (api, origin, code) counters kept between two reports; more are dropped."""
MAX_ORIGIN_CHARS: Final = 300
MAX_SAMPLE_CHARS: Final = 300


class Refusals:
    """Refused-request counters, safe to share between threads."""

    def __init__(self, max_keys: int = MAX_REFUSED_KEYS) -> None:
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], list[Any]] = {}
        self._dropped = 0
        # Refusals per (api, code) since start, never drained: what the metrics export.
        self._totals: dict[tuple[str, str], int] = {}

    def count(self, api: str, origin: str, code: str, reason: str) -> None:
        """Count one refusal (past ``max_keys`` distinct keys, new ones are dropped)."""
        key = (api, origin[:MAX_ORIGIN_CHARS], code)
        with self._lock:
            self._totals[(api, code)] = self._totals.get((api, code), 0) + 1
            entry = self._counts.get(key)
            if entry is not None:
                entry[0] += 1
            elif len(self._counts) >= self.max_keys:
                self._dropped += 1
            else:
                self._counts[key] = [1, reason[:MAX_SAMPLE_CHARS]]

    def totals(self) -> dict[tuple[str, str], int]:
        """Refusals per ``(api, code)`` since this process started (monotonic counters)."""
        with self._lock:
            return dict(self._totals)

    def drain(self) -> tuple[list[dict[str, Any]], int]:
        """The counters as report items, and the dropped count; both reset."""
        with self._lock:
            counts, self._counts = self._counts, {}
            dropped, self._dropped = self._dropped, 0
        items = [
            {"api": api, "origin": origin, "reason": code, "count": count, "sample": sample}
            for (api, origin, code), (count, sample) in counts.items()
        ]
        return items, dropped

    def restore(self, payload: Mapping[str, Any]) -> None:
        """Put a report's counts back (it was not delivered)."""
        with self._lock:
            self._dropped += int(payload.get("dropped", 0))
            for item in payload.get("refused", []):
                key = (item["api"], item["origin"], item["reason"])
                entry = self._counts.get(key)
                if entry is not None:
                    entry[0] += item["count"]
                elif len(self._counts) < self.max_keys:
                    self._counts[key] = [item["count"], item["sample"]]
                else:
                    self._dropped += item["count"]
