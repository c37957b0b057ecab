"""Remove temporary origins whose time is up (what beat schedules every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from policies import services


class Command(BaseCommand):
    help = "Remove origin rules whose expiry has passed; each removal is audited."

    def handle(self, *args: Any, **options: Any) -> None:
        removed = services.expire_origins()
        if removed:
            self.stdout.write(f"expired {removed} origin rule(s)")
