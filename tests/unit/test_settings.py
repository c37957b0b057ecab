"""Settings come only from the environment, and are safe when nothing is set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import corsadmin.settings as s; "
    "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
    "s.DATABASES['default']['ENGINE'])"
)


def _settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SECRET_KEY", "DEBUG"))}
    clean.update({"CORSADMIN_VAR_DIR": str(tmp_path), "DATABASE_URL": "", **env})
    clean.pop("DATABASE_URL")
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_settings__no_secret_key_debug_off__refuses_to_start(tmp_path: Path) -> None:
    result = _settings(tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_settings__key_file_from_run__used_and_secure_defaults(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("k" * 50 + "\n")
    result = _settings(tmp_path)
    assert result.returncode == 0, result.stderr
    # DEBUG off, Secure cookies, the embedded SQLite database
    assert result.stdout.split() == ["False", "True", "True", "django.db.backends.sqlite3"]


def test_settings__debug_flag_not_boolean__clear_error(tmp_path: Path) -> None:
    result = _settings(tmp_path, DEBUG="maybe", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def _check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ALLOWED_HOSTS", "DATABASE_URL")}
    clean.update(CORSADMIN_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="corsadmin.settings")
    clean.pop("SECRET_KEY", None)
    clean.pop("SECRET_KEY_FILE", None)
    clean.pop("CORSADMIN_SIGNING_KEY_FILE", None)
    clean.update(env)
    made = subprocess.run(
        [sys.executable, "manage.py", "rotate_signing_key"],
        cwd=ROOT,
        env=clean,
        check=False,
        capture_output=True,
    )
    assert made.returncode == 0
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_checks__no_allowed_hosts__warned_but_commands_run(tmp_path: Path) -> None:
    # Given a configured key (not ./run's machine file) and no ALLOWED_HOSTS
    result = _check(tmp_path, SECRET_KEY="k" * 50)
    # Then commands run, with the warning
    assert result.returncode == 0, result.stderr
    assert "corsadmin.W002" in result.stderr + result.stdout


def test_checks__after_run__no_allowed_hosts_warning(tmp_path: Path) -> None:
    # Given the machine ./run set up (its key file in var/) and nothing exported
    (tmp_path / "secret_key").write_text("k" * 50)
    # When a management command runs
    result = _check(tmp_path)
    # Then it says nothing about ALLOWED_HOSTS: ./run's loopback names are the default there
    assert result.returncode == 0, result.stderr
    assert "ALLOWED_HOSTS" not in result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_checks__no_signing_key__error_names_the_command(tmp_path: Path) -> None:
    # Given a set-up with a secret key but no signing key
    (tmp_path / "secret_key").write_text("k" * 50)
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    clean.update(CORSADMIN_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="corsadmin.settings")
    for name in ("SECRET_KEY", "CORSADMIN_SIGNING_KEY_FILE"):
        clean.pop(name, None)
    # When the checks run
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    # Then they fail, saying how to make one (nothing would be served unsigned)
    assert result.returncode != 0
    assert "corsadmin.E010" in result.stderr
    assert "rotate_signing_key" in result.stderr
