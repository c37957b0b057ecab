"""manage.py import_cors: django-cors-headers settings and flask-cors / express options."""

from __future__ import annotations

import json
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

from policies.cors import decide
from policies.documents import compile_document
from policies.models import Api, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def settings_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(text: str) -> str:
        name = f"service_settings_{uuid.uuid4().hex}"
        (tmp_path / f"{name}.py").write_text(text)
        return name

    return write


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_cors", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def allowed(api: Api, origin: str, path: str = "/api/x") -> bool:
    document = compile_document(api)
    return (
        "Access-Control-Allow-Origin"
        in decide(document, method="GET", path=path, headers={"Origin": origin}).headers
    )


def test_from_django_settings__creates_the_api_audited_as_import_cors(
    settings_module: Any, team: Group
) -> None:
    module = settings_module(
        """
CORS_ALLOWED_ORIGINS = ["https://App.example.com:443", "http://localhost:3000"]
CORS_ALLOWED_ORIGIN_REGEXES = [r"^https://pr-\\d+\\.preview\\.example\\.com$"]
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ["get", "post", "options"]
CORS_ALLOW_HEADERS = ["Authorization", "Content-Type"]
CORS_EXPOSE_HEADERS = ["X-Request-Id"]
CORS_PREFLIGHT_MAX_AGE = 600
CORS_URLS_REGEX = r"^/api/.*$"
"""
    )
    output = run("--from-django-settings", module, "--api", "billing", "--team", "payments")
    assert "created API billing" in output
    api = Api.objects.get(slug="billing")
    assert sorted(api.origins.values_list("kind", "value")) == [
        ("exact", "http://localhost:3000"),
        ("exact", "https://app.example.com"),
        ("regex", r"^https://pr-\d+\.preview\.example\.com$"),
    ]
    assert api.allow_credentials is True
    assert sorted(api.methods) == ["GET", "OPTIONS", "POST"]
    assert api.request_headers == ["authorization", "content-type"]
    assert api.expose_headers == ["x-request-id"]
    assert (api.max_age, api.paths) == (600, r"^/api/.*$")
    assert allowed(api, "https://pr-12.preview.example.com")
    assert not allowed(api, "https://pr-12.preview.example.com.evil.net")
    event = AuditEvent.objects.get(api_slug="billing")
    assert event.actor_name == "import_cors"
    assert "imported from django-cors-headers settings" in event.comment


def test_from_django_settings__defaults_as_corsheaders(settings_module: Any, team: Group) -> None:
    module = settings_module('CORS_ALLOWED_ORIGINS = ["https://app.example.com"]\n')
    output = run(
        "--from-django-settings", module, "--api", "billing", "--team", "payments", "--dry-run"
    )
    fields = json.loads(output)["fields"]
    assert fields["methods"] == ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]
    assert "x-csrftoken" in fields["request_headers"]
    assert fields["max_age"] == 86400
    assert fields["paths"] == ""
    assert not Api.objects.exists()  # dry run


def test_unanchored_regex__refused_with_the_anchored_form_suggested(
    settings_module: Any, team: Group
) -> None:
    module = settings_module('CORS_ALLOWED_ORIGIN_REGEXES = [r"https://.*\\.example\\.com"]\n')
    with pytest.raises(CommandError) as error:
        run("--from-django-settings", module, "--api", "billing", "--team", "payments")
    message = str(error.value)
    assert "not anchored at the end" in message
    assert r"'^https://.*\\.example\\.com$'" in message
    assert "https://*.example.com" in message  # the wildcard alternative
    assert not Api.objects.exists()


def test_regex_without_caret__start_anchor_added_same_meaning(
    settings_module: Any, team: Group
) -> None:
    module = settings_module(
        'CORS_ALLOWED_ORIGIN_REGEXES = [r"https://(a|b)\\.example\\.com$"]\n'
        'CORS_URLS_REGEX = r"/api/|/v2/"\n'
    )
    run("--from-django-settings", module, "--api", "billing", "--team", "payments")
    api = Api.objects.get(slug="billing")
    assert api.origins.get().value == r"^https://(a|b)\.example\.com$"
    assert api.paths == "^(?:/api/|/v2/)"
    assert allowed(api, "https://a.example.com", "/v2/x")
    assert not allowed(api, "https://a.example.com", "/other/api/")


def test_allow_all_with_credentials__refused_by_lint(settings_module: Any, team: Group) -> None:
    module = settings_module("CORS_ALLOW_ALL_ORIGINS = True\nCORS_ALLOW_CREDENTIALS = True\n")
    with pytest.raises(CommandError, match="refused"):
        run("--from-django-settings", module, "--api", "billing", "--team", "payments")
    assert not Api.objects.exists()


def test_existing_api__updated__one_version_one_event_with_the_whole_diff(
    api: Api, settings_module: Any
) -> None:
    module = settings_module(
        'CORS_ALLOWED_ORIGINS = ["https://new.example.com"]\nCORS_PREFLIGHT_MAX_AGE = 300\n'
    )
    output = run("--from-django-settings", module, "--api", "billing")
    assert "updated API billing" in output
    api.refresh_from_db()
    assert list(api.origins.values_list("value", flat=True)) == ["https://new.example.com"]
    assert api.max_age == 300
    # The import is one planned write: one version, one event holding every change
    assert api.version == 2
    event = AuditEvent.objects.get(actor_name="import_cors")
    assert event.action == "api.updated"
    changed = {change["field"]: change for change in event.diff}
    assert changed["max_age"]["after"] == 300
    assert [o["value"] for o in changed["origins"]["added"]] == ["https://new.example.com"]
    assert [o["value"] for o in changed["origins"]["removed"]] == ["https://app.example.com"]


def test_existing_production_api__user_import_widens__change_request_not_applied(
    api: Api, settings_module: Any, member: Any, actor: Any
) -> None:
    from policies import services
    from policies.models import ChangeRequest

    services.update_api(actor=actor, api=api, environment="production", comment="go live")
    module = settings_module('CORS_ALLOWED_ORIGINS = ["https://new.example.com"]\n')
    output = run("--from-django-settings", module, "--api", "billing", "--user", member.username)
    assert "not applied yet" in output
    request = ChangeRequest.objects.get()
    assert request.state == "open"
    assert request.title == "import the CORS configuration into billing"
    assert not api.origins.filter(value="https://new.example.com").exists()


def test_missing_team__clear_error(settings_module: Any, db: None) -> None:
    module = settings_module('CORS_ALLOWED_ORIGINS = ["https://app.example.com"]\n')
    with pytest.raises(CommandError, match="give --team"):
        run("--from-django-settings", module, "--api", "billing")
    with pytest.raises(CommandError, match="no team 'nope'"):
        run("--from-django-settings", module, "--api", "billing", "--team", "nope")


def test_unimportable_module__clear_error(db: None) -> None:
    with pytest.raises(CommandError, match="cannot import settings module"):
        run("--from-django-settings", "no.such.module", "--api", "billing")


def test_as_user__permissions_apply(settings_module: Any, team: Group, outsider: User) -> None:
    module = settings_module('CORS_ALLOWED_ORIGINS = ["https://app.example.com"]\n')
    with pytest.raises(CommandError, match="may not change"):
        run(
            "--from-django-settings",
            module,
            "--api",
            "billing",
            "--team",
            "payments",
            "--user",
            "oscar",
        )


def test_from_json__flask_cors_options(tmp_path: Path, team: Group) -> None:
    options = tmp_path / "cors.json"
    options.write_text(
        json.dumps(
            {
                "origins": [
                    "https://app.example.com",
                    "https://*.example.org",
                    r"^https://pr-[0-9]+\.example\.net$",
                ],
                "methods": "GET, POST",
                "allow_headers": ["Content-Type"],
                "expose_headers": ["X-Total"],
                "supports_credentials": True,
                "max_age": "600",
            }
        )
    )
    run("--from-json", str(options), "--api", "billing", "--team", "payments")
    api = Api.objects.get(slug="billing")
    assert sorted(api.origins.values_list("kind", flat=True)) == ["exact", "regex", "wildcard"]
    assert sorted(api.methods) == ["GET", "POST"]
    assert (api.allow_credentials, api.max_age) == (True, 600)
    assert api.expose_headers == ["x-total"]


def test_from_json__express_options(tmp_path: Path, team: Group) -> None:
    options = tmp_path / "cors.json"
    options.write_text(
        json.dumps(
            {
                "origin": "https://app.example.com",
                "methods": ["GET", "PUT"],
                "allowedHeaders": ["Authorization"],
                "exposedHeaders": "X-Request-Id",
                "credentials": False,
                "maxAge": 120,
                "optionsSuccessStatus": 204,
            }
        )
    )
    run("--from-json", str(options), "--api", "billing", "--team", "payments")
    api = Api.objects.get(slug="billing")
    assert list(api.origins.values_list("value", flat=True)) == ["https://app.example.com"]
    assert api.request_headers == ["authorization"]
    assert api.max_age == 120


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"origin": True, "credentials": True}, "reflects every origin"),
        ({"origins": [r"https://.*\.example\.com"]}, "not anchored at the end"),
        ({"origins": ["not an origin"]}, "origins[0]"),
        ({"resources": {"/api/*": {"origins": "*"}}}, "per-path options"),
        ({"origins": "*", "supports_credentials": "yes"}, "true or false"),
    ],
)
def test_from_json__problems__nothing_imported(
    tmp_path: Path, team: Group, options: dict[str, Any], message: str
) -> None:
    path = tmp_path / "cors.json"
    path.write_text(json.dumps(options))
    with pytest.raises(CommandError, match="nothing was imported") as error:
        run("--from-json", str(path), "--api", "billing", "--team", "payments")
    assert message in str(error.value)
    assert not Api.objects.exists()
