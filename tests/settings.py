"""Settings for the test suite: production settings plus a throwaway key and fast hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

from corsadmin.settings import *  # noqa: F403
from corsadmin.settings import CACHES, REDIS_URL


def _session_signing_key() -> str:
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    from joserfc.jwk import OKPKey

    folder = tempfile.mkdtemp(prefix="corsadmin-test-keys-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / "signing_key.pem"
    path.write_bytes(OKPKey.generate_key("Ed25519", private=True).as_pem(private=True))
    path.chmod(0o600)
    return str(path)


# Password hashing is deliberately slow in production; tests hash thousands of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Parallel workers share CI's Redis: each uses its own database (see tests/conftest.py).
if REDIS_URL:
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    _number = int(_worker[2:]) if _worker.startswith("gw") else 0
    REDIS_URL = f"{REDIS_URL.rsplit('/', 1)[0]}/{1 + _number % 15}"
    CACHES["default"]["LOCATION"] = REDIS_URL

# Pub/sub channels are server-wide (not per database): each worker publishes on its own.
CORSADMIN_REDIS_PREFIX = f"corsadmin-test-{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}"

# A signing key made for this test session only (never a key in the repository).
CORSADMIN_SIGNING_KEY_FILE = _session_signing_key()

# Tasks run in-process unless a test starts a real worker for asynchronous behaviour.
CELERY_TASK_ALWAYS_EAGER = True

# No collected static files in tests: WhiteNoise serves from the app finders.
STATIC_ROOT = None  # type: ignore[assignment]
