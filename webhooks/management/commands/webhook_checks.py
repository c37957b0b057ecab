"""Run the webhooks' scheduled work once: due retries, stale consumers, refusal spikes and,
with --verify-audit, the audit chain check. Beat runs the same tasks in production; `./run`
(no beat) runs this every 30 seconds."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from webhooks import services, watch


class Command(BaseCommand):
    help = "Send due webhook retries and run the consumer, refusal (and audit) checks once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--verify-audit",
            action="store_true",
            help="also walk the audit chain and send audit.verify_failed if it is broken",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        results = [services.attempt(delivery_id) for delivery_id in services.due_deliveries()]
        stale = watch.check_stale_consumers()
        spikes = watch.check_refused_spikes()
        line = f"retries: {len(results)}, stale consumers: {stale}, refusal spikes: {spikes}"
        if options["verify_audit"]:
            verified = watch.verify_audit()
            line += f", audit: {'broken' if verified['problem'] else 'intact'}"
        if results or stale or spikes or options["verbosity"] > 1:
            self.stdout.write(line)
