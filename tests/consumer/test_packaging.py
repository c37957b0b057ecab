"""pyproject.toml: the base install is the consumer's; [server] mirrors requirements.txt."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=! ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_base_dependencies__only_what_the_consumer_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = {"httpx", "redis", "google-re2", "joserfc"}  # joserfc: verifying signatures
    assert {_name(r) for r in project["dependencies"]} == expected


def test_server_extra__mirrors_requirements_txt() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    pinned = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert set(project["optional-dependencies"]["server"]) == pinned
