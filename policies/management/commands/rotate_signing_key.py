"""Add a new Ed25519 signing key: it signs from now on; the older keys stay published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from policies import signing


class Command(BaseCommand):
    help = (
        "Append a new Ed25519 key to CORSADMIN_SIGNING_KEY_FILE (created, mode 0600, if "
        "missing). The newest key signs; every key in the file is published at /api/v1/keys."
    )
    # It must run before a key exists, when the signing-key system check fails.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="only create the file if there is none (what ./run and deployments call)",
        )
        parser.add_argument("--file", help="the key file (default: CORSADMIN_SIGNING_KEY_FILE)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"]) if options["file"] else signing.key_file()
        if options["if_missing"] and path.exists():
            return
        rotating = path.exists()
        try:
            kid = signing.add_key(path)
        except (signing.SigningKeyError, OSError) as exc:
            raise CommandError(str(exc)) from None
        if not rotating:
            self.stdout.write(f"new signing key {kid} in {path}: it signs every document")
            return
        self.stdout.write(f"new signing key {kid} in {path}: it signs from now on")
        if path.resolve() == signing.key_file().resolve():
            # Re-sign what Redis holds now, rather than at the next 5-minute republish, so
            # the policy endpoint serves the new key's signatures from the next request.
            from policies import publishing

            count = publishing.republish_all()
            self.stdout.write(f"{count} documents re-signed and republished")
        self.stdout.write(
            "The older keys stay published: remove one only after every consumer has "
            "fetched since (one poll interval) and trusts the new key."
        )
