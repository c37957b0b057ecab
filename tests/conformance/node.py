"""Running the Node package from Python tests: ``npm ci`` once per session into the
package's own ``node_modules`` (the lockfile is committed), then ``node`` scripts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.tools import missing

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "node"


def node_package() -> str:
    """The path of ``node``, with the package's dependencies installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing("Node.js with npm", "apt-get install nodejs npm")
        raise AssertionError("unreachable")
    if not (PACKAGE / "node_modules" / "re2js").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PACKAGE,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return node
