"""Validation of an API's non-origin fields (pure Python: shared by forms, API and services)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import re2

# RFC 9110 token: what a method or header name may be made of.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
MAX_PATHS_LENGTH = 500


class FieldError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _tokens(values: Iterable[str] | str, what: str) -> list[str]:
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    cleaned: list[str] = []
    for raw in values:
        if not isinstance(raw, str):
            raise FieldError(f"{what} must be text, not {type(raw).__name__}")
        value = raw.strip()
        if not value:
            continue
        if value != "*" and not _TOKEN.match(value):
            raise FieldError(
                f"{value!r} is not a valid {what}: use letters, digits and - only"
                if what != "method"
                else f"{value!r} is not a valid HTTP method name"
            )
        cleaned.append(value)
    return cleaned


def clean_methods(values: Iterable[str] | str) -> list[str]:
    """Methods keep their case: matching is case-sensitive (lint flags 'patch')."""
    return sorted(set(_tokens(values, "method")))


def clean_header_names(values: Iterable[str] | str) -> list[str]:
    return sorted({value.lower() for value in _tokens(values, "header name")})


def clean_paths(value: str | None) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) > MAX_PATHS_LENGTH:
        raise FieldError(f"the paths pattern is longer than {MAX_PATHS_LENGTH} characters")
    try:
        re2.compile(value)
    except re2.error as exc:
        raise FieldError(f"the paths pattern is not a valid regular expression: {exc}") from None
    return value


def clean_max_age(value: int, *, hard_cap: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("max-age must be a whole number of seconds")
    if value < 0:
        raise FieldError("max-age cannot be negative")
    if value > hard_cap:
        raise FieldError(f"max-age above {hard_cap} s is ignored by every browser: use 7200")
    return value
