"""docker-compose.yml, .env.example and the Dockerfile, read as an operator would check them.

`manage.py check --deploy` must be clean with exactly the environment the compose file gives
the containers (its defaults, filled from .env.example, as README.md's "Production" says).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# One-shot steps: they run to completion and are waited for; a healthcheck means nothing.
ONE_SHOTS = {"migrate", "createadmin"}
APP_SERVICES = {"migrate", "createadmin", "web", "worker", "beat"}
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY($|_)")
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[-?])(?P<arg>[^}]*))?\}")


def _dotenv(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}`, `${NAME:?error}` (unset or empty)."""

    def one(match: re.Match[str]) -> str:
        value = env.get(match["name"], "")
        if value:
            return value
        if match["op"] == "?":
            raise KeyError(f"{match['name']}: {match['arg']}")
        return match["arg"] or ""

    return _VARIABLE.sub(one, text.replace("$$", "\0")).replace("\0", "$")


def _environment(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def _healthcheck_command(service: str) -> list[str]:
    check = SERVICES[service].get("healthcheck") or {}
    return list(check.get("test") or [])


def test_compose__every_long_running_service__has_a_healthcheck() -> None:
    # Given every service that keeps running
    for name, service in SERVICES.items():
        if name in ONE_SHOTS:
            # One-shots run to completion and the others wait for that
            assert service["restart"] == "no", name
            continue
        # Then each has a real healthcheck: a command, not disabled
        check = service.get("healthcheck") or {}
        assert not check.get("disable"), name
        command = _healthcheck_command(name)
        assert command, name
        assert command[0] in ("CMD", "CMD-SHELL"), name
        assert len(command) > 1, name
    # And the web's is the readiness probe, the worker's a ping to itself
    assert "/readyz" in " ".join(_healthcheck_command("web"))
    assert "inspect ping" in " ".join(_healthcheck_command("worker"))
    assert "celerybeat-schedule" in " ".join(_healthcheck_command("beat"))


def test_compose__worker_beat_web_admin__wait_for_migrations() -> None:
    assert "python manage.py migrate --no-input" in " ".join(SERVICES["migrate"]["command"])
    for name in ("web", "worker", "beat", "createadmin"):
        assert SERVICES[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name
    # And migrations wait for a database that answers
    assert SERVICES["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_compose__one_shot_admin__password_from_a_secret() -> None:
    admin = SERVICES["createadmin"]
    assert admin["command"] == ["python", "manage.py", "ensure_admin"]
    assert admin["restart"] == "no"
    assert _environment("createadmin")["CORSADMIN_ADMIN_PASSWORD_FILE"] == (
        "/run/secrets/admin_password"
    )
    assert "CORSADMIN_ADMIN_PASSWORD" not in _environment("createadmin")
    assert "admin_password" in admin["secrets"]


def test_compose__no_password_or_key_written_in_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in SERVICES:
        for variable, value in _environment(name).items():
            # Then secret-looking variables are file paths to mounted secrets or come from
            # the operator's environment, never a value written here
            if _SECRET_NAME.search(variable):
                if variable.endswith("_FILE"):
                    # a mounted secret, or the signing keys' own volume
                    assert value.startswith(("/run/secrets/", "/var/lib/corsadmin/keys/")), (
                        name,
                        variable,
                    )
                else:
                    assert re.fullmatch(r"\$\{\w+(:-)?\}", value), (name, variable, value)
            # And no URL carries a password
            if "://" in value:
                assert urlsplit(value).password is None, (name, variable)
    # And every mounted secret is a file outside the repository (secrets/ is ignored by git)
    for secret in COMPOSE["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    assert "/secrets/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "/.env" in (ROOT / ".gitignore").read_text().splitlines()
    assert "POSTGRES_PASSWORD:" not in text
    assert _environment("postgres")["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"


def test_compose__web_port__loopback_unless_told_otherwise() -> None:
    (published,) = SERVICES["web"]["ports"]
    # By default: loopback only
    host, _, container = interpolate(published, {}).rpartition(":")
    assert (host, container) == ("127.0.0.1:8000", "8000")
    # Told otherwise (CORSADMIN_BIND, as the README says): that address
    assert interpolate(published, {"CORSADMIN_BIND": "0.0.0.0:80"}) == "0.0.0.0:80:8000"
    # And no other service publishes a port
    assert [name for name, service in SERVICES.items() if service.get("ports")] == ["web"]


def test_compose__csrf_origins_and_cookie_settings__passed_through() -> None:
    given = {
        "ALLOWED_HOSTS": "cors.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://cors.example.com",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SESSION_COOKIE_AGE": "3600",
    }
    for name in APP_SERVICES:
        environment = {k: interpolate(v, given) for k, v in _environment(name).items()}
        for variable, value in given.items():
            assert environment[variable] == value, (name, variable)


def test_compose__allowed_hosts_missing__refuses_to_start() -> None:
    with pytest.raises(KeyError, match="ALLOWED_HOSTS"):
        interpolate(_environment("web")["ALLOWED_HOSTS"], {})


def test_dockerfile__unprivileged_healthchecked_gunicorn_conf() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER nobody\n" in dockerfile
    assert "HEALTHCHECK" in dockerfile
    assert "/readyz" in dockerfile
    assert '"python:corsadmin.gunicorn_conf"' in dockerfile


def test_check_deploy__production_environment__clean(tmp_path: Path) -> None:
    # Given the environment compose gives the web container, with .env.example's values
    dotenv = _dotenv(ROOT / ".env.example")
    environment = {k: interpolate(v, dotenv) for k, v in _environment("web").items()}
    # and its secret files (here in a temporary directory rather than /run/secrets)
    (tmp_path / "secret_key").write_text(secrets.token_urlsafe(50))
    (tmp_path / "db_password").write_text(secrets.token_hex(24))
    for variable, value in list(environment.items()):
        if value.startswith("/run/secrets/"):
            environment[variable] = str(tmp_path / Path(value).name)
    # and the signing key the migrate step makes in its volume
    environment["CORSADMIN_SIGNING_KEY_FILE"] = str(tmp_path / "keys" / "signing_key.pem")
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECRET_KEY", "DEBUG", "DATABASE_", "REDIS_", "CORSADMIN_"))
    }
    clean.update(environment, DJANGO_SETTINGS_MODULE="corsadmin.settings")
    clean["CORSADMIN_VAR_DIR"] = str(tmp_path)
    made = subprocess.run(
        [sys.executable, "manage.py", "rotate_signing_key", "--if-missing"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    # When Django's deployment checks run, failing on any warning
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )
    # Then there is nothing to report
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_env_example__every_variable__documented_in_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    names = set(_dotenv(ROOT / ".env.example"))
    for name in APP_SERVICES:
        names |= set(_environment(name))
    undocumented = sorted(name for name in names if f"`{name}`" not in readme)
    assert undocumented == []
