"""The production install runs: a clean virtualenv from ``requirements.txt`` alone (what the
Dockerfile installs), then the real ``celery -A corsadmin worker`` and ``beat`` on a Redis
broker, each carrying a task through to the database.

The test environment has more packages than production (pytest brings ``packaging``, which
kombu's Redis transport imports), so only a separate install shows what production lacks.
The virtualenv is cached by the hash of ``requirements.txt`` and the interpreter, under
``$XDG_CACHE_HOME/corsadmin`` (``~/.cache/corsadmin``); pip's own wheel cache makes a
rebuild cheap, and a warm cache makes a rerun cost only the processes' start-up.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, Process, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("production-install")]

EXPIRING_DIRECT = "https://pr-1.preview.example.com"
EXPIRING_BEAT = "https://pr-2.preview.example.com"


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "corsadmin"


def _build_venv() -> Path:
    """The cached production virtualenv: built once per requirements.txt and interpreter."""
    requirements = (ROOT / "requirements.txt").read_bytes()
    key = hashlib.sha256(requirements + sys.base_prefix.encode() + sys.version.encode())
    venv = _cache_dir() / f"prod-venv-{key.hexdigest()[:16]}"
    done = venv / ".complete"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        # Parallel test workers (or runs) build it once; the others wait here.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            result = subprocess.run(
                [str(venv / "bin/python"), "-m", "pip", "install", "-q", "-r", "requirements.txt"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"pip install -r requirements.txt failed:\n{result.stderr}")
            done.touch()
    return venv


def _production_env(venv: Path, workdir: Path, redis_url: str) -> dict[str, str]:
    """Only what production sets: nothing of the test process leaks in (no PYTHONPATH)."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key in ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    }
    return {
        **inherited,
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "PYTHONUNBUFFERED": "1",
        "SECRET_KEY": "production-install-test-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{workdir / 'central.sqlite3'}",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CORSADMIN_VAR_DIR": str(workdir),
        "CORSADMIN_REDIS_PREFIX": f"corsadmin-prod-install-{os.getpid()}",
    }


@pytest.fixture(scope="module")
def venv() -> Path:
    return _build_venv()


@pytest.fixture
def production(venv: Path, tmp_path: Path, redis_url: str) -> tuple[dict[str, str], Path]:
    env = _production_env(venv, tmp_path, redis_url)
    # The signing key, made as the compose file's migrate step makes it (nothing unsigned).
    _run(env, str(venv / "bin/python"), "manage.py", "rotate_signing_key", "--if-missing")
    return env, tmp_path


def _run(env: dict[str, str], *command: str) -> str:
    result = subprocess.run(
        list(command), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _seed_expiring(env: dict[str, str], venv: Path, origin: str) -> None:
    code = f"""
from datetime import timedelta
from django.contrib.auth.models import Group
from django.utils import timezone
from policies import services
from policies.actors import Actor
from policies.models import Api
system = Actor.system("install-test")
api = Api.objects.filter(slug="shop").first()
if api is None:
    team, _ = Group.objects.get_or_create(name="shop-team")
    api = services.create_api(actor=system, slug="shop", name="Shop", team=team,
                              environment="staging")
services.add_origin(actor=system, api=api, value={origin!r},
                    expires_at=timezone.now() + timedelta(milliseconds=200))
"""
    _run(env, str(venv / "bin/python"), "manage.py", "shell", "-c", code)


def _expired(database: Path, origin: str) -> bool:
    """The rule is gone and its removal audited as the expiry (read straight from SQLite)."""
    with sqlite3.connect(database) as connection:
        rules = connection.execute(
            "SELECT count(*) FROM policies_originrule WHERE value = ?", (origin,)
        ).fetchone()[0]
        events = connection.execute(
            "SELECT count(*) FROM policies_auditevent WHERE action = 'origin.expired' "
            "AND object_repr LIKE ?",
            (f"%{origin}%",),
        ).fetchone()[0]
    return rules == 0 and events == 1


def _wait_log(process: Process, text: str, timeout: float = 60) -> None:
    def logged() -> bool:
        assert process.popen is not None
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.output()[-4000:]}")
        return text in process.output()

    wait_until(logged, timeout, step=0.1)


def test_production_install__django_loads_and_checks(
    production: tuple[dict[str, str], Path], venv: Path
) -> None:
    # Given a virtualenv with requirements.txt only
    env, _ = production
    python = str(venv / "bin/python")
    # When the WSGI application is imported and Django's system checks run
    _run(env, python, "-c", "import corsadmin.wsgi")
    output = _run(env, python, "manage.py", "check")
    # Then both succeed (and the test tools are really absent from that environment)
    assert "no issues" in output
    missing = subprocess.run(
        [python, "-c", "import pytest"], env=env, capture_output=True, check=False
    )
    assert missing.returncode != 0


def test_production_install__worker_and_beat__run_tasks_from_the_redis_broker(
    production: tuple[dict[str, str], Path], venv: Path
) -> None:
    # Given a migrated database and the real worker on the Redis broker, from requirements.txt
    env, workdir = production
    database = workdir / "central.sqlite3"
    _run(env, str(venv / "bin/python"), "manage.py", "migrate", "--no-input", "-v", "0")
    worker = Process(
        "worker",
        [str(venv / "bin/celery"), "-A", "corsadmin", "worker", "--pool", "solo", "-l", "INFO"],
        env,
        workdir,
    )
    schedule = workdir / "celerybeat-schedule"
    beat = Process(
        "beat",
        [str(venv / "bin/celery"), "-A", "corsadmin", "beat", "-l", "DEBUG", "-s", str(schedule)],
        env,
        workdir,
    )
    try:
        worker.start()
        _wait_log(worker, " ready.")
        # When a task is queued through the broker (what the web process does)
        _seed_expiring(env, venv, EXPIRING_DIRECT)
        code = "from policies import tasks; tasks.expire_origins.delay()"
        _run(env, str(venv / "bin/python"), "manage.py", "shell", "-c", code)
        # Then the worker runs it: the temporary origin is removed and audited
        wait_until(lambda: _expired(database, EXPIRING_DIRECT), 30, step=0.1)

        # Given beat has started once (its schedule file is written) and stopped...
        beat.start()
        _wait_log(beat, "beat: Waking up")
        beat.stop()
        # ...and its minute-by-minute expiry is overdue, as after an outage of beat
        age = (
            "import shelve, sys\nfrom datetime import timedelta\n"
            "with shelve.open(sys.argv[1], writeback=True) as db:\n"
            "    entry = db['entries']['expire-origins']\n"
            "    entry.last_run_at = entry.last_run_at - timedelta(hours=1)\n"
        )
        _run(env, str(venv / "bin/python"), "-c", age, str(schedule))
        _seed_expiring(env, venv, EXPIRING_BEAT)
        # When beat starts again
        beat.start()
        # Then it sends the overdue task at once and the worker removes the origin
        _wait_log(beat, "Sending due task expire-origins")
        wait_until(lambda: _expired(database, EXPIRING_BEAT), 30, step=0.1)
        assert "ModuleNotFoundError" not in worker.output() + beat.output()
    finally:
        beat.stop()
        worker.stop()
