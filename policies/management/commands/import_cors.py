"""Turn an existing CORS configuration into an API's central policy (through the services).

    python manage.py import_cors --from-django-settings myservice.settings --api billing \\
        --team payments
    python manage.py import_cors --from-json cors.json --api billing --team payments

``--from-django-settings`` imports a module and reads django-cors-headers' settings;
``--from-json`` reads flask-cors / express ``cors`` style options. The API is created, or
updated when it exists (its origin rules replaced by the imported ones), in one transaction,
audited as ``import_cors`` (or ``--user``). ``--dry-run`` prints what would be saved.

Nothing is silently made wider or narrower: where corsadmin would read a setting
differently from the library it comes from (a regex django-cors-headers only anchors at the
start, ``origin: true`` that reflects every origin, per-path resources), the command stops
and says what to write instead.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from policies import services
from policies.actors import Actor
from policies.lint import has_errors, lint_document, suggest_origin_regex
from policies.models import Api
from policies.origins import OriginError, _anchors, _top_level_branches, canonical_rule

# django-cors-headers' defaults (corsheaders.defaults), used when a setting is absent so the
# imported policy behaves as the service did.
CORSHEADERS_METHODS = ("DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT")
CORSHEADERS_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "user-agent",
    "x-csrftoken",
    "x-requested-with",
)
CORSHEADERS_MAX_AGE = 86400
_REGEX_CHARS = set("\\[]()?+$^|{}")
_JSON_KEYS = {
    "origins": "origins",
    "origin": "origins",
    "methods": "methods",
    "allow_headers": "request_headers",
    "allowedHeaders": "request_headers",
    "expose_headers": "expose_headers",
    "exposedHeaders": "expose_headers",
    "supports_credentials": "allow_credentials",
    "credentials": "allow_credentials",
    "max_age": "max_age",
    "maxAge": "max_age",
    "allow_private_network": "allow_private_network",
}
_JSON_IGNORED = {
    "preflightContinue",
    "optionsSuccessStatus",
    "send_wildcard",
    "always_send",
    "automatic_options",
    "vary_header",
    "intercept_exceptions",
}


class ImportProblem(Exception):
    """One setting that cannot be imported as is; the message says what to write instead."""


def _as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    raise ImportProblem(f"{where} must be a list or a comma-separated string, not {value!r}")


def _ends_anchored(pattern: str) -> bool:
    return all(_anchors(branch)[1] for branch in _top_level_branches(pattern))


def _starts_anchored(pattern: str) -> bool:
    return all(_anchors(branch)[0] for branch in _top_level_branches(pattern))


def _passes_lint(kind: str, value: str) -> bool:
    """Whether an origin rule on its own lints without errors (what a suggestion must do)."""
    return not has_errors(lint_document({"origins": {kind: [value]}}, environment="development"))


def _wildcard_hint(pattern: str) -> str:
    """``https://*.example.com`` when the regex looks like "any subdomain of a domain" and
    that wildcard lints clean."""
    body = pattern.removeprefix("^").removesuffix("$")
    for prefix in (r".*\.", r".+\.", r"[^.]+\.", r"[a-z0-9-]+\.", r"(.*\.)?", r"([^.]+\.)?"):
        for scheme in ("https://", "http://"):
            if body.startswith(scheme + prefix):
                domain = body[len(scheme + prefix) :]
                if domain and not set(domain.replace(r"\.", "")) & (_REGEX_CHARS | {".", "*"}):
                    wildcard = f"{scheme}*.{domain.replace(chr(92) + '.', '.')}"
                    if _passes_lint("wildcard", wildcard):
                        return f"; or a wildcard rule {wildcard}"
    return ""


def match_regex_rule(pattern: str, where: str) -> str:
    """A start-anchored-match regex (Python ``re.match``, as django-cors-headers and
    flask-cors use it) as a corsadmin regex rule: ``^`` may be added (same meaning), but a
    missing end anchor is an error, since adding it narrows what the pattern admits."""
    pattern = pattern.strip()
    if pattern.endswith(r"\Z"):
        pattern = pattern[:-2] + "$"
    if not _starts_anchored(pattern):
        multiple = len(_top_level_branches(pattern)) > 1
        pattern = f"^(?:{pattern})" if multiple else f"^{pattern}"
    if not _ends_anchored(pattern):
        branches = [b.removeprefix("^") for b in _top_level_branches(pattern)]
        fixed = f"^{branches[0]}$" if len(branches) == 1 else f"^(?:{'|'.join(branches)})$"
        # The suggestion must itself pass lint (escaped dots, lower case, inside the domains
        # it names), or it only moves the refusal to the next import.
        suggested = suggest_origin_regex(fixed)
        hint = _wildcard_hint(suggested or fixed)
        if suggested is not None:
            advice = f"write the anchored form {suggested!r}{hint} (check it is what you meant)"
        else:
            advice = (
                f"even anchored ({fixed!r}) it matches origins on domains it does not name; "
                f"list the origins you meant{hint}"
            )
        raise ImportProblem(
            f"{where} {pattern!r} is not anchored at the end: it is matched from the start "
            f"only, so it also admits longer origins such as "
            f"'https://a.example.com.evil.net'. corsadmin matches whole origins: {advice} "
            f"and import again"
        )
    try:
        return canonical_rule("regex", pattern)
    except OriginError as exc:
        raise ImportProblem(f"{where} {pattern!r}: {exc.message}") from None


def _origin_rule(value: Any, where: str, *, regex_allowed: bool) -> tuple[str, str]:
    if not isinstance(value, str):
        raise ImportProblem(f"{where} must be a string, not {value!r}")
    text = value.strip()
    looks_wildcard = "://*." in text and not set(text) & _REGEX_CHARS
    if looks_wildcard:
        kind = "wildcard"
    elif regex_allowed and (set(text) & _REGEX_CHARS or ".*" in text):
        return "regex", match_regex_rule(text, where)
    else:
        kind = "exact"
    try:
        return kind, canonical_rule(kind, text)
    except OriginError as exc:
        raise ImportProblem(f"{where} {text!r}: {exc.message}") from None


class Imported:
    """The fields and origin rules of a policy read from a configuration."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.origins: list[tuple[str, str]] = []
        self.problems: list[str] = []
        self.notes: list[str] = []

    def add_origin(self, value: Any, where: str, *, regex_allowed: bool = False) -> None:
        if value == "null":
            self.fields["allow_null"] = True
            self.notes.append(f"{where}: 'null' imported as allow_null (lint may refuse it)")
            return
        try:
            rule = _origin_rule(value, where, regex_allowed=regex_allowed)
        except ImportProblem as exc:
            self.problems.append(str(exc))
            return
        if rule not in self.origins:
            self.origins.append(rule)

    def attempt(self, where: str, convert: Any) -> None:
        try:
            convert()
        except ImportProblem as exc:
            self.problems.append(str(exc))
        except (TypeError, ValueError) as exc:
            self.problems.append(f"{where}: {exc}")


def from_django_settings(module_path: str) -> Imported:
    try:
        module = importlib.import_module(module_path)
    except Exception as exc:
        raise CommandError(f"cannot import settings module {module_path!r}: {exc}") from exc
    result = Imported()

    def setting(name: str, *old: str, default: Any = None) -> Any:
        for candidate in (name, *old):
            if hasattr(module, candidate):
                return getattr(module, candidate)
        return default

    for index, origin in enumerate(
        _as_list(setting("CORS_ALLOWED_ORIGINS", "CORS_ORIGIN_WHITELIST"), "CORS_ALLOWED_ORIGINS")
    ):
        result.add_origin(origin, f"CORS_ALLOWED_ORIGINS[{index}]")
    regexes = _as_list(
        setting("CORS_ALLOWED_ORIGIN_REGEXES", "CORS_ORIGIN_REGEX_WHITELIST"),
        "CORS_ALLOWED_ORIGIN_REGEXES",
    )
    for index, pattern in enumerate(regexes):
        where = f"CORS_ALLOWED_ORIGIN_REGEXES[{index}]"
        pattern = getattr(pattern, "pattern", pattern)  # a compiled re.Pattern
        if not isinstance(pattern, str):
            result.problems.append(f"{where} must be a string, not {pattern!r}")
            continue
        result.attempt(where, lambda p=pattern, w=where: _add_regex(result, p, w))
    result.fields["allow_all"] = bool(
        setting("CORS_ALLOW_ALL_ORIGINS", "CORS_ORIGIN_ALLOW_ALL", default=False)
    )
    result.fields["allow_credentials"] = bool(setting("CORS_ALLOW_CREDENTIALS", default=False))
    result.fields["allow_private_network"] = bool(
        setting("CORS_ALLOW_PRIVATE_NETWORK", default=False)
    )
    result.attempt(
        "CORS_ALLOW_METHODS",
        lambda: result.fields.__setitem__(
            "methods",
            [
                str(m).upper()
                for m in _as_list(
                    setting("CORS_ALLOW_METHODS", default=CORSHEADERS_METHODS),
                    "CORS_ALLOW_METHODS",
                )
            ],
        ),
    )
    result.attempt(
        "CORS_ALLOW_HEADERS",
        lambda: result.fields.__setitem__(
            "request_headers",
            [
                str(h).lower()
                for h in _as_list(
                    setting("CORS_ALLOW_HEADERS", default=CORSHEADERS_HEADERS),
                    "CORS_ALLOW_HEADERS",
                )
            ],
        ),
    )
    result.attempt(
        "CORS_EXPOSE_HEADERS",
        lambda: result.fields.__setitem__(
            "expose_headers",
            [str(h).lower() for h in _as_list(setting("CORS_EXPOSE_HEADERS"), "")],
        ),
    )
    max_age = setting("CORS_PREFLIGHT_MAX_AGE", default=CORSHEADERS_MAX_AGE)
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        result.problems.append(f"CORS_PREFLIGHT_MAX_AGE must be whole seconds, not {max_age!r}")
    else:
        result.fields["max_age"] = max_age
    urls = setting("CORS_URLS_REGEX", default=r"^.*$")
    urls = getattr(urls, "pattern", urls)
    if not isinstance(urls, str):
        result.problems.append(f"CORS_URLS_REGEX must be a string, not {urls!r}")
    elif urls.strip() in ("", "^.*$", ".*", "^.*", "^"):
        result.fields["paths"] = ""
    else:
        # django-cors-headers uses re.match (anchored at the start); paths are searched.
        result.fields["paths"] = urls if _starts_anchored(urls) else f"^(?:{urls})"
    if setting("CORS_REPLACE_HTTPS_REFERER"):
        result.notes.append("CORS_REPLACE_HTTPS_REFERER has no equivalent: not imported")
    result.notes.append(
        "a check_request_enabled signal handler, if the service has one, is not imported"
    )
    return result


def _add_regex(result: Imported, pattern: str, where: str) -> None:
    rule = ("regex", match_regex_rule(pattern, where))
    if rule not in result.origins:
        result.origins.append(rule)


def from_json(path: Path) -> Imported:
    try:
        options = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    if not isinstance(options, dict):
        raise CommandError(f"{path}: expected a JSON object of cors options")
    result = Imported()
    if "resources" in options:
        result.problems.append(
            "resources: per-path options cannot be one policy; import each as its own API "
            "(with its paths) from a file holding that resource's options"
        )
    for key in options:
        if key not in _JSON_KEYS and key not in _JSON_IGNORED and key != "resources":
            result.notes.append(f"{key}: not a known option, ignored")
    origins = options.get("origins", options.get("origin", "*"))
    if origins is True:
        result.problems.append(
            "origin: true reflects every origin (with credentials, any site can read "
            "authenticated responses); list the origins instead"
        )
    elif origins is False:
        result.problems.append("origin: false disables CORS; there is nothing to import")
    elif origins == "*" or origins == ["*"] or origins == ".*":
        result.fields["allow_all"] = True
    else:
        where = "origins" if "origins" in options else "origin"
        values = origins if isinstance(origins, list) else [origins]
        for index, value in enumerate(values):
            result.add_origin(value, f"{where}[{index}]", regex_allowed=True)
    for key, field in _JSON_KEYS.items():
        if key not in options or field == "origins":
            continue
        value = options[key]
        if field == "allow_credentials" or field == "allow_private_network":
            if not isinstance(value, bool):
                result.problems.append(f"{key} must be true or false, not {value!r}")
            else:
                result.fields[field] = value
        elif field == "max_age":
            try:
                result.fields["max_age"] = int(value)
            except (TypeError, ValueError):
                result.problems.append(f"{key} must be whole seconds, not {value!r}")
        else:
            result.attempt(
                key,
                lambda k=key, f=field, v=value: result.fields.__setitem__(
                    f,
                    [
                        str(item).upper() if f == "methods" else str(item).lower()
                        for item in _as_list(v, k)
                    ],
                ),
            )
    return result


class Command(BaseCommand):
    help = (
        "Create or update an API's policy from django-cors-headers settings "
        "(--from-django-settings module.path) or flask-cors / express cors options "
        "(--from-json file), through the audited services."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--from-django-settings", metavar="MODULE")
        source.add_argument("--from-json", metavar="FILE")
        parser.add_argument("--api", required=True, help="the API's slug")
        parser.add_argument("--team", help="the owning team (required to create the API)")
        parser.add_argument("--name", help="the API's name when created (default: the slug)")
        parser.add_argument("--environment", default=None)
        parser.add_argument("--mode", default=None, help="enforce, report-only or off")
        parser.add_argument("--user", help="act as this user (default: the system)")
        parser.add_argument("--comment", default="")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["from_django_settings"]:
            imported = from_django_settings(options["from_django_settings"])
            source = f"django-cors-headers settings {options['from_django_settings']}"
        else:
            imported = from_json(Path(options["from_json"]))
            source = f"cors options {options['from_json']}"
        for note in imported.notes:
            self.stderr.write(f"note: {note}")
        if imported.problems:
            raise CommandError(
                "nothing was imported:\n" + "\n".join(f"  - {p}" for p in imported.problems)
            )
        fields = dict(imported.fields)
        for option in ("environment", "mode"):
            if options[option]:
                fields[option] = options[option]
        origins = [{"kind": kind, "value": value} for kind, value in imported.origins]
        if options["dry_run"]:
            self.stdout.write(json.dumps({"fields": fields, "origins": origins}, indent=2))
            return
        actor = self._actor(options["user"])
        comment = options["comment"] or f"imported from {source}"
        try:
            with transaction.atomic():
                api = Api.objects.select_related("team").filter(slug=options["api"]).first()
                if api is None:
                    api = self._create(options, actor, fields, origins, comment)
                    verb = "created"
                else:
                    api = self._update(api, actor, fields, imported.origins, comment)
                    verb = "updated"
        except services.ValidationFailed as exc:
            lines = [f"  - {name}: {' '.join(messages)}" for name, messages in exc.errors.items()]
            raise CommandError("the imported policy was refused:\n" + "\n".join(lines)) from exc
        except services.ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"{verb} API {api.slug} (version {api.version}): {len(origins)} origin rule(s), "
            f"allow_all={fields.get('allow_all', False)}, "
            f"credentials={fields.get('allow_credentials', False)}"
        )

    def _actor(self, username: str | None) -> Actor:
        if not username:
            return Actor.system("import_cors")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        return Actor.for_user(user)

    def _create(
        self,
        options: Mapping[str, Any],
        actor: Actor,
        fields: dict[str, Any],
        origins: Sequence[Mapping[str, str]],
        comment: str,
    ) -> Api:
        if not options["team"]:
            raise CommandError(f"API {options['api']!r} does not exist: give --team to create it")
        team = Group.objects.filter(name=options["team"]).first()
        if team is None:
            teams = ", ".join(Group.objects.order_by("name").values_list("name", flat=True))
            raise CommandError(f"no team {options['team']!r} (teams: {teams or 'none'})")
        return services.create_api(
            actor=actor,
            slug=options["api"],
            name=options["name"] or options["api"],
            team=team,
            origins=origins,
            comment=comment,
            **fields,
        )

    def _update(
        self,
        api: Api,
        actor: Actor,
        fields: dict[str, Any],
        origins: Sequence[tuple[str, str]],
        comment: str,
    ) -> Api:
        wanted = set(origins)
        # Removals first: the policy never holds both the old and the new set at once.
        for rule in list(api.origins.all()):
            if (rule.kind, rule.value) not in wanted:
                services.remove_origin(actor=actor, rule=rule, comment=comment)
        api.refresh_from_db()
        api = services.update_api(actor=actor, api=api, comment=comment, **fields)
        present = {(rule.kind, rule.value) for rule in api.origins.all()}
        for kind, value in origins:
            if (kind, value) not in present:
                services.add_origin(actor=actor, api=api, kind=kind, value=value, comment=comment)
        api.refresh_from_db()
        return api
