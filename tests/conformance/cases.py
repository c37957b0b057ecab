"""Loading the language-neutral conformance cases (``conformance/cases/*.json``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "conformance"
CASE_DIR = CONFORMANCE / "cases"
HEADER_NAMES = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Allow-Private-Network",
    "Vary",
)


def case_files() -> list[Path]:
    return sorted(CASE_DIR.glob("*.json"))


def load_cases() -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, case) for every case, id = ``<group>: <name>``."""
    for path in case_files():
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data["cases"]:
            yield f"{data['group']}: {entry['name']}", entry


def params(*, e2e_only: bool = False) -> list[Any]:
    return [
        pytest.param(entry, id=name)
        for name, entry in load_cases()
        if not e2e_only or entry.get("e2e")
    ]


def observed_headers(headers: Mapping[str, str]) -> dict[str, str | None]:
    """The CORS response headers of ``headers`` (any case), every name present, None = absent."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return {name: lowered.get(name.lower()) for name in HEADER_NAMES}
