"""Write signed policy documents to a file: a consumer's bootstrap file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from policies import publishing
from policies.models import Api


class Command(BaseCommand):
    help = (
        "Write the current signed documents of the given APIs to FILE as a JSON list of "
        '{"document": "<exact body>", "signature": "<compact detached JWS>"} '
        "(a consumer's CORSADMIN_BOOTSTRAP_FILE)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="+", metavar="slug")
        parser.add_argument("--out", required=True, help="the file to write ('-': stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        slugs: list[str] = list(dict.fromkeys(options["slugs"]))
        apis = {
            api.slug: api
            for api in Api.objects.select_related("team")
            .prefetch_related("origins")
            .filter(slug__in=slugs)
        }
        missing = [slug for slug in slugs if slug not in apis]
        if missing:
            # Nothing is written: a bootstrap file missing an API would look complete.
            raise CommandError(f"no such API: {', '.join(missing)}")
        entries = []
        for slug in slugs:
            signed = publishing.build(apis[slug])
            entries.append({"document": signed.body.decode(), "signature": signed.signature})
        text = json.dumps(entries, indent=2) + "\n"
        if options["out"] == "-":
            self.stdout.write(text, ending="")
            return
        out = Path(options["out"])
        temporary = out.with_name(out.name + ".tmp")
        try:
            temporary.write_text(text)
            os.replace(temporary, out)
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc}") from None
        self.stderr.write(f"wrote {len(entries)} signed document(s) to {out}")
