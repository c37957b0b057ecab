"""JSON request bodies with a nesting limit.

Python's json module recurses per level: a body nested a few thousand levels deep raises
RecursionError (a 500), and one just under the interpreter's limit parses but breaks whatever
walks it later (``str()``, serializers, the audit diff). No request of this API nests more
than a handful of levels, so anything deeper than `MAX_DEPTH` is refused as a parse error
(400) before a view sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` (parsed JSON) nests lists/objects more than ``limit`` deep.
    Iterative, so it cannot itself run out of stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser (strict: no NaN/Infinity) refusing bodies nested deeper than
    `MAX_DEPTH` with a 400 instead of failing with RecursionError."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        message = f"JSON parse error - nested deeper than {MAX_DEPTH} levels"
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(message) from None
        if depth_exceeds(data, MAX_DEPTH):
            raise ParseError(message)
        return data
