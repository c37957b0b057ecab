"""Print a new personal access token for a user (shown once; only its digest is stored)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from policies import services
from policies.actors import Actor


class Command(BaseCommand):
    help = "Issue a personal access token acting as USERNAME for the management API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="script", help="what the token is for")
        parser.add_argument("--days", type=int, default=None, help="expire after N days")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        if not user.is_active:
            raise CommandError(f"user {options['username']!r} is inactive")
        days = options["days"]
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        expires = timezone.now() + timedelta(days=days) if days else None
        _, secret = services.issue_access_token(
            actor=Actor.system("create_access_token"),
            user=user,
            name=options["name"],
            expires_at=expires,
        )
        self.stdout.write(secret)
