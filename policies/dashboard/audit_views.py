"""The audit log page and its streamed exports (CSV and JSON Lines).

A page is one index range scan (newest first, cursor on `sequence`, no COUNT); an export
streams the filtered events from a database cursor in chunks, so its memory use does not
grow with the number of events.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from policies import audit_selectors, permissions
from policies.audit import HASHED_FIELDS
from policies.dashboard import display, params, queries
from policies.dashboard.auth import login_required
from policies.dashboard.forms import AuditFilterForm
from policies.models import AuditEvent

PAGE_SIZE = 50
EXPORT_CHUNK = 2000
# Everything an event holds, in the order the chain hashes it, then its own digest.
EXPORT_FIELDS: tuple[str, ...] = (*HASHED_FIELDS, "digest")
_JSON_FIELDS = frozenset({"before", "after", "diff"})
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEvent]]:
    form = AuditFilterForm(request.GET or None)
    events = audit_selectors.events_visible_to(request.user)
    if form.is_bound:
        if form.is_valid():
            events = queries.filter_events(events, form.cleaned_data)
        else:
            events = events.none()
    return form, events


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form, events = _filtered(request)
    before, after = params.integer(request.GET, "before"), params.integer(request.GET, "after")
    if after is not None:
        # Newer events: walk up from the cursor, then show them newest first.
        rows = list(events.filter(sequence__gt=after).order_by("sequence")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        has_older = True
    else:
        if before is not None:
            events = events.filter(sequence__lt=before)
        rows = list(events.order_by("-sequence")[: PAGE_SIZE + 1])
        has_older = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        has_newer = before is not None
    # Which of the events' APIs still exist and may be opened (one query).
    api_ids = {event.api_id for event in rows if event.api_id is not None}
    live = dict(
        permissions.visible_apis(request.user).filter(pk__in=api_ids).values_list("pk", "slug")
    )
    for event in rows:
        event.live_slug = live.get(event.api_id) if event.api_id else None  # type: ignore[attr-defined]
        event.rows = display.event_rows(event)  # type: ignore[attr-defined]
        event.folded = len(event.rows) > display.FOLD_AFTER  # type: ignore[attr-defined]
    query = request.GET.copy()
    for key in ("before", "after"):
        query.pop(key, None)
    return render(
        request,
        "dashboard/audit_log.html",
        status=400 if form.is_bound and not form.is_valid() else 200,
        context={
            "form": form,
            "events": rows,
            "older": rows[-1].sequence if has_older and rows else None,
            "newer": rows[0].sequence if has_newer and rows else None,
            "filters": query.urlencode(),
        },
    )


class _Echo:
    """A file-like object whose write returns the line: csv.writer into a generator."""

    def write(self, value: str) -> str:
        return value


def _export_rows(events: QuerySet[AuditEvent]) -> Iterator[dict[str, Any]]:
    ordered = events.order_by("sequence").values(*EXPORT_FIELDS)
    yield from ordered.iterator(chunk_size=EXPORT_CHUNK)


def _csv_cell(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return json.dumps(value, sort_keys=True)
    if name == "timestamp":
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        # A spreadsheet would run "=..." typed into a comment as a formula (CSV injection).
        return "'" + value
    return value


def _csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_FIELDS)
    for row in rows:
        yield writer.writerow([_csv_cell(name, row[name]) for name in EXPORT_FIELDS])


def _jsonl_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        row["timestamp"] = row["timestamp"].isoformat()
        yield json.dumps(row, sort_keys=True, default=str) + "\n"


def _filename(extension: str) -> str:
    return f"corsadmin-audit-{timezone.now():%Y%m%d-%H%M%S}.{extension}"


def _refused_filters(form: AuditFilterForm) -> HttpResponse | None:
    """A 400 naming the filters an export cannot apply (instead of an empty file)."""
    if not form.is_bound or form.is_valid():
        return None
    problems = "; ".join(
        f"{name}: {' '.join(str(m) for m in messages)}" for name, messages in form.errors.items()
    )
    return HttpResponseBadRequest(f"invalid filters: {problems}\n", content_type="text/plain")


@login_required
def audit_export_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form, events = _filtered(request)
    if refused := _refused_filters(form):
        return refused
    response = StreamingHttpResponse(
        _csv_lines(_export_rows(events)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


@login_required
def audit_export_jsonl(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form, events = _filtered(request)
    if refused := _refused_filters(form):
        return refused
    response = StreamingHttpResponse(
        _jsonl_lines(_export_rows(events)), content_type="application/x-ndjson; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename("jsonl")}"'
    return response
