"""Walk the audit hash chain and report the first event that was altered, removed or inserted."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from policies.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exits non-zero at the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        checked, problem = verify_chain()
        if problem is not None:
            raise CommandError(
                f"audit chain broken at event #{problem.sequence}: {problem.problem}"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {checked} events verified"))
