"""The embedded SQLite database under concurrent writers (separate processes, as gunicorn
workers, consumer reports and the expiry loop are): no "database is locked" errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITES = """
import os
from policies import services
from policies.actors import Actor
from policies.models import Api
api = Api.objects.get(slug="demo")
for n in range(15):
    services.update_api(actor=Actor.system("writer"), api=api, description=f"{os.getpid()}-{n}")
    api.refresh_from_db()
"""


@pytest.mark.e2e
def test_embedded_sqlite__three_writer_processes__all_writes_commit(tmp_path: Path) -> None:
    # Given the embedded set-up (a SQLite file, as ./run has it) with the demo API
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_"))
    }
    env.update(
        CORSADMIN_VAR_DIR=str(tmp_path), SECRET_KEY="concurrency-test-key", PYTHONPATH=str(ROOT)
    )

    def manage(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    setups = (("rotate_signing_key", "--if-missing"), ("migrate", "-v", "0"), ("load_demo",))
    for setup in setups:
        assert manage(*setup).wait(timeout=120) == 0
    # When three processes write at once, each reading before it writes (version, audit head)
    writers = [manage("shell", "-c", WRITES) for _ in range(3)]
    results = [(w.wait(timeout=120), w.stderr.read() if w.stderr else "") for w in writers]
    # Then every write committed and the audit chain is whole
    assert [code for code, _ in results] == [0, 0, 0], results
    verify = manage("verify_audit")
    assert verify.wait(timeout=60) == 0
    assert verify.stdout is not None
    assert "intact: 46 events verified" in verify.stdout.read()
