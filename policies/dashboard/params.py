"""The dashboard's query-string and hidden-field parameters, parsed in one place.

A malformed value is the client's mistake, never a 500: `BadParameter` (a Django
`BadRequest`) becomes a 400 page naming the parameter and what was expected (see
`policies.dashboard.errors.bad_request`). Only ASCII digits count as a number ("²" and "٣"
are digits to `str.isdigit` but not to `int`), and numbers are bounded by what the database
can hold. Dates are whole days whose following day is still a date (``9999-12-31`` has
none, so "up to and including it" cannot be expressed as a bound).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from django import forms
from django.core.exceptions import BadRequest

# The largest value a BigAutoField / PositiveBigIntegerField holds.
MAX_ID = 2**63 - 1
LAST_DAY = date.max - timedelta(days=1)


class BadParameter(BadRequest):
    """A query or form parameter the dashboard cannot use; its message is shown as is."""


def integer(
    data: Mapping[str, Any], name: str, *, minimum: int = 0, maximum: int = MAX_ID
) -> int | None:
    """``data[name]`` as an int in ``minimum..maximum``; None when absent or empty.

    Raises `BadParameter` for anything else (signs, spaces inside, non-ASCII digits, too
    large), so a link with a mangled number gets a clear 400 instead of a guess.
    """
    raw = data.get(name)
    if raw is None:
        return None
    value = str(raw).strip()
    if not value:
        return None
    if value.isascii() and value.isdigit() and len(value) <= len(str(maximum)):
        number = int(value)
        if minimum <= number <= maximum:
            return number
    raise BadParameter(
        f"{name}={str(raw)[:40]!r} is not valid: expected a whole number from {minimum} "
        f"to {maximum}"
    )


class DayField(forms.DateField):
    """A form's date (ISO ``2026-01-31``) that a whole-day range can end on: at most
    9999-12-30, so the exclusive end (the next midnight) is still a date."""

    def to_python(self, value: Any) -> date | None:
        day = super().to_python(value)
        if day is not None and day > LAST_DAY:
            raise forms.ValidationError(f"the last date that can be used is {LAST_DAY}")
        return day
