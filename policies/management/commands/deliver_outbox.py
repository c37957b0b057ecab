"""Deliver committed changes to Redis: once, or as a loop (the embedded `./run`'s worker)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from policies import outbox, publishing


class Command(BaseCommand):
    help = (
        "Deliver outbox messages Redis has not taken yet. With --every N, keep doing it every "
        "N seconds (and republish every document every --republish-every seconds): what beat "
        "and the Celery worker do in production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0.0, help="loop, this many seconds")
        parser.add_argument("--republish-every", type=float, default=300.0)

    def handle(self, *args: Any, **options: Any) -> None:
        every: float = options["every"]
        if every <= 0:
            delivered = outbox.deliver_pending()
            if delivered:
                self.stdout.write(f"delivered {delivered} message(s)")
            return
        republished_at = time.monotonic()
        while True:
            close_old_connections()
            try:
                outbox.deliver_pending()
                if time.monotonic() - republished_at >= options["republish_every"]:
                    republished_at = time.monotonic()
                    publishing.republish_all()
            except Exception as exc:  # a database hiccup must not end the loop
                self.stderr.write(f"deliver_outbox: {type(exc).__name__}: {exc}")
            time.sleep(every)
