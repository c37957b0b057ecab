"""Lint status of APIs for the list page: a badge per row and the "lint status" filter.

The status is stored on each API by the services on every write (`Api.lint_status`), so the
filter is one indexed condition however many APIs there are.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from policies.documents import compile_document
from policies.lint import Finding, lint_document
from policies.models import Api

STATUSES: tuple[tuple[str, str], ...] = (
    ("ok", "No findings"),
    ("warning", "Warnings"),
    ("error", "Errors"),
)


def findings_for(api: Api, document: dict[str, Any] | None = None) -> list[Finding]:
    """The findings of an API's current document (pass it when already compiled)."""
    if document is None:
        document = compile_document(api)
    return lint_document(document, environment=api.environment)


def filter_by_status(queryset: QuerySet[Api], wanted: str) -> QuerySet[Api]:
    return queryset.filter(lint_status=wanted)
