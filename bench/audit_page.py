"""Benchmark: the audit log page and API with 1,000,000 events on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/corsadmin_bench \
        .venv/bin/python bench/audit_page.py [--events 1000000] [--repeat 15]

Server time is measured in-process (Django's test client: the whole request through the
middleware, view, queries and template, no network). The baseline, measured in the same run
on the same data, is the same requests with the audit table's secondary indexes dropped (in
a transaction that is rolled back): the ratio says what the indexes buy. Target: the filtered
page (by API and date range) under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

SECONDARY_INDEXES = ("audit_api_time", "audit_apiid_time", "audit_actor_time", "audit_action_time")

GENERATE = """
INSERT INTO policies_auditevent (
    sequence, timestamp, actor_type, actor_id, actor_name, actor_ip, user_agent, request_id,
    action, api_id, api_slug, api_version, object_type, object_id, object_repr,
    before, after, diff, comment, prev_digest, digest)
SELECT g,
       now() - ((%(n)s - g) * interval '31 seconds'),
       'user', g %% 50, 'user' || (g %% 50), '10.0.0.1', 'bench', md5(g::text),
       (ARRAY['api.updated','origin.added','origin.removed','origin.changed'])[1 + g %% 4],
       g %% 500, 'api-' || (g %% 500), g / 500, 'origin', g::text,
       'exact https://o' || g || '.example.com',
       NULL, jsonb_build_object('value', 'https://o' || g || '.example.com'),
       jsonb_build_array(jsonb_build_object('field', 'max_age', 'before', 600, 'after', 60)),
       '', lpad(to_hex(g - 1), 64, '0'), lpad(to_hex(g), 64, '0')
FROM generate_series(1, %(n)s) AS g
"""


def ensure_events(count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM policies_auditevent")
        if cursor.fetchone()[0] == count:
            return
        print(f"generating {count:,} audit events ...", flush=True)
        started = time.perf_counter()
        # TRUNCATE is not a row-level UPDATE/DELETE: the append-only trigger allows it, and
        # it is only ever run here, on the benchmark's own database.
        cursor.execute("TRUNCATE policies_auditevent")
        cursor.execute(GENERATE, {"n": count})
        cursor.execute("ANALYZE policies_auditevent")
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)


def measure(client: Client, url: str, repeat: int) -> float:
    client.get(url)  # warm caches and the plan
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples) * 1000


def run_all(cases: dict[str, str], client: Client, repeat: int) -> dict[str, float]:
    return {name: measure(client, url, repeat) for name, url in cases.items()}


def without_indexes(action: Callable[[], dict[str, float]]) -> dict[str, float]:
    class Rollback(Exception):
        pass

    result: dict[str, float] = {}
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                for name in SECONDARY_INDEXES:
                    cursor.execute(f'DROP INDEX "{name}"')
            result = action()
            raise Rollback
    except Rollback:
        pass
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("this benchmark needs DATABASE_URL pointing at PostgreSQL")

    call_command("migrate", verbosity=0)
    ensure_events(args.events)
    admin, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(admin)

    today = timezone.now().date()
    since = (today - timedelta(days=30)).isoformat()
    until = today.isoformat()
    old_since = (today - timedelta(days=330)).isoformat()
    old_until = (today - timedelta(days=300)).isoformat()
    cases = {
        "page: api + 30 days": f"/audit/?api=api-42&since={since}&until={until}",
        "page: api + 30 days, 300 d ago": f"/audit/?api=api-42&since={old_since}&until={old_until}",
        "page: action + 30 d, 300 d ago": (
            f"/audit/?action=origin.added&since={old_since}&until={old_until}"
        ),
        "page: actor + 30 days": f"/audit/?actor=user7&since={since}&until={until}",
        "page: unfiltered": "/audit/",
        "api: api + 30 days": f"/api/v1/audit/?api=api-42&since={since}&until={until}",
    }
    indexed = run_all(cases, client, args.repeat)
    baseline = without_indexes(lambda: run_all(cases, client, max(3, args.repeat // 3)))

    print(f"\n{args.events:,} events, median of {args.repeat} requests (server time, ms)")
    print(f"{'case':32} {'indexed':>9} {'no-index baseline':>18} {'ratio':>7}")
    for name in cases:
        ratio = indexed[name] / baseline[name]
        print(f"{name:32} {indexed[name]:9.1f} {baseline[name]:18.1f} {ratio:7.3f}")


if __name__ == "__main__":
    main()
