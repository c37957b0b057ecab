"""Benchmark: what webhooks add to a policy write (recording deliveries in its transaction).

    .venv/bin/python bench/webhooks_emit.py [--writes 200] [--repeat 5]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/corsadmin_bench .venv/bin/python ...

Times `services.update_api` (lock, lint, version, audit, emit, commit) on a fresh database
(a temporary SQLite file unless DATABASE_URL is set; migrated, then cleaned up), first with
no subscription (the baseline), then with 20 subscriptions of other events, then with 1 and
10 subscriptions to `policy.published`. Sending is the worker's job and is not measured:
queueing is replaced by a no-op. Prints ms per write (median of the rounds; each round runs
every case once) and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_tmp = tempfile.TemporaryDirectory()
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp.name}/bench.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402

from policies import services  # noqa: E402
from policies.actors import Actor  # noqa: E402
from policies.models import Api  # noqa: E402
from webhooks import services as webhooks  # noqa: E402
from webhooks.models import Delivery, Subscription  # noqa: E402


def _writes(actor: Actor, api: Api, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        api = services.update_api(actor=actor, api=api, max_age=api.max_age % 3000 + 1)
    return (time.perf_counter() - started) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    webhooks._queue = lambda ids, *, countdown: None  # type: ignore[assignment]
    team, _ = Group.objects.get_or_create(name="bench")
    actor = Actor.system("bench")
    api = Api.objects.filter(slug="bench").first() or services.create_api(
        actor=actor, slug="bench", name="Bench", team=team
    )
    Subscription.objects.all().delete()

    def subscribe(count: int, events: list[str]) -> None:
        for index in range(count):
            webhooks.create_subscription(
                actor=actor,
                name=f"s{index}",
                url=f"https://hooks{index}.example.com/x",
                team=team,
                event_types=events,
            )

    cases = [
        ("no subscription (baseline)", 0, []),
        ("20 subscriptions, other events", 20, ["token.issued"]),
        ("1 subscription to policy.published", 1, ["policy.published"]),
        ("10 subscriptions to policy.published", 10, ["policy.published"]),
    ]
    # Rounds: every case once per round, so drift (other load, the database growing)
    # affects all cases alike.
    runs: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    for _ in range(options.repeat):
        for label, count, events in cases:
            Subscription.objects.all().delete()
            subscribe(count, events)
            api.refresh_from_db()
            _writes(actor, api, 5)  # warm up
            runs[label].append(_writes(actor, api, options.writes))
    print(f"{connection_vendor()}, {options.writes} writes x {options.repeat} rounds")
    print("| subscriptions | ms per write | vs baseline |")
    print("|---|---:|---:|")
    baseline = statistics.median(runs[cases[0][0]])
    for label, _, _ in cases:
        median = statistics.median(runs[label])
        print(f"| {label} | {median:.2f} | {median / baseline:.2f} |")
    print(f"deliveries recorded: {Delivery.objects.count()}")


def connection_vendor() -> str:
    from django.db import connection

    return connection.vendor


if __name__ == "__main__":
    main()
