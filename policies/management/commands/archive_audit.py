"""Move audit events older than a date into a JSON Lines file, then remove them.

The only way events leave the table. The file is written and flushed to disk before anything
is deleted; the chain head records the last archived event as the new anchor, so
`verify_audit` keeps verifying from there, and the archiving itself is recorded as an event.
"""

from __future__ import annotations

import json
import os
from datetime import UTC as datetime_utc
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from policies import audit
from policies.actors import Actor
from policies.models import AuditAction, AuditChainHead, AuditEvent


class Command(BaseCommand):
    help = "Archive audit events older than --before into --to (JSON Lines), then remove them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, help="date, YYYY-MM-DD (UTC)")
        parser.add_argument("--to", required=True, help="file to write (must not exist)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cutoff = datetime.strptime(options["before"], "%Y-%m-%d").replace(tzinfo=datetime_utc)
        except ValueError:
            raise CommandError(
                f"--before {options['before']!r} is not a date like 2026-01-31"
            ) from None
        target = Path(options["to"])
        if target.exists():
            raise CommandError(f"{target} exists: archive into a new file")
        _checked, problem = audit.verify_chain()
        if problem is not None:
            raise CommandError(
                f"refusing to archive a broken chain (event #{problem.sequence}: {problem.problem})"
            )
        with transaction.atomic():
            head = AuditChainHead.objects.select_for_update().get(id=1)
            events = AuditEvent.objects.filter(timestamp__lt=cutoff).order_by("sequence")
            last: AuditEvent | None = None
            count = 0
            with target.open("x", encoding="utf-8") as out:
                for event in events.iterator(chunk_size=2000):
                    row = {f.name: getattr(event, f.name) for f in AuditEvent._meta.fields}
                    out.write(json.dumps(row, cls=DjangoJSONEncoder, sort_keys=True) + "\n")
                    last, count = event, count + 1
                out.flush()
                os.fsync(out.fileno())
            if last is None:
                target.unlink()
                self.stdout.write(f"no events before {cutoff:%Y-%m-%d}: nothing archived")
                return
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SET LOCAL corsadmin.archiving = 'on'")
                cursor.execute(
                    "DELETE FROM policies_auditevent WHERE sequence <= %s", [last.sequence]
                )
            head.anchor_sequence, head.anchor_digest = last.sequence, last.digest
            head.save(update_fields=["anchor_sequence", "anchor_digest"])
            audit.record(
                actor=Actor.system("archive_audit"),
                action=AuditAction.ARCHIVED,
                object_type="audit",
                object_repr=str(target),
                after={
                    "archived": count,
                    "through_sequence": last.sequence,
                    "anchor_digest": last.digest,
                    "before": cutoff.isoformat(),
                    "file": str(target),
                },
            )
        self.stdout.write(
            self.style.SUCCESS(f"archived {count} events (through #{last.sequence}) to {target}")
        )
