"""Benchmark: what the containment proof adds to linting a policy.

    .venv/bin/python bench/lint_containment.py [--rounds 5]

`policies.lint.lint_document` (run on every save and preview) for the design document's
policy with its regex and wildcard rules, cold (the automata built from scratch: a pattern
never seen by this process) and warm (the proof's per-pattern cache hit). Baseline, measured
in the same run: the same policy with exact origins only, where no automaton is built.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies import origins
from policies.lint import lint_document

REGEXES = [
    r"^https://pr-[0-9]+\.preview\.example\.com$",
    r"^https://([a-z0-9-]+\.)*example\.com$",
    r"^https://(app|admin)\.example\.com(:[0-9]+)?$",
    r"^https://.*example\.com$",
    r"^https://[a-z0-9-]+\.amazonaws\.com$",
]


def document(*, regexes: list[str], wildcards: list[str]) -> dict[str, Any]:
    return {
        "schema": 1,
        "origins": {
            "exact": ["https://app.example.com", "https://admin.example.com"],
            "wildcard": wildcards,
            "regex": regexes,
            "allow_all": False,
            "allow_null": False,
        },
        "methods": ["GET", "POST", "PUT"],
        "request_headers": ["authorization", "content-type"],
        "allow_credentials": True,
        "max_age": 600,
    }


def best(run: Any, rounds: int, *, cold: bool) -> float:
    times = []
    for _ in range(rounds):
        if cold:
            origins.containment_escape.cache_clear()
            origins._under.cache_clear()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    lint_document(document(regexes=[], wildcards=[]), environment="production")  # PSL loaded
    baseline = best(
        lambda: lint_document(document(regexes=[], wildcards=[]), environment="production"),
        rounds,
        cold=False,
    )
    print(f"{'policy':<44} {'ms':>9} {'vs exact only':>14}")
    print(f"{'2 exact origins (baseline)':<44} {baseline:>9.2f} {1:>14.1f}")
    cases = [
        ("+ 1 regex, cold", [REGEXES[0]], []),
        ("+ 5 regexes, cold", REGEXES, []),
        ("+ wildcard *.amazonaws.com, cold", [], ["https://*.amazonaws.com"]),
    ]
    for label, regexes, wildcards in cases:
        doc = document(regexes=regexes, wildcards=wildcards)
        for cold in (True, False):
            name = label if cold else label.replace("cold", "warm")
            ms = best(lambda d=doc: lint_document(d, environment="production"), rounds, cold=cold)
            print(f"{name:<44} {ms:>9.2f} {ms / baseline:>14.1f}")


if __name__ == "__main__":
    main()
