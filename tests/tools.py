"""Outside programs some tests drive (Chromium, Node). Missing ones fail the run in CI,
where .ci/run installs them; elsewhere the tests say what to install and are skipped."""

from __future__ import annotations

import os

import pytest


def missing(what: str, how: str) -> None:
    message = f"{what} is not installed: {how}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
