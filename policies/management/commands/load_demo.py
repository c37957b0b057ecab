"""Load a small demo API (through the services, so it is versioned and audited)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from policies import services
from policies.actors import Actor
from policies.models import Api


class Command(BaseCommand):
    help = "Create the 'demo' API owned by the 'platform' team, unless it exists."

    def handle(self, *args: Any, **options: Any) -> None:
        if Api.objects.filter(slug="demo").exists():
            self.stdout.write("Demo API 'demo' exists.")
            return
        team, _ = Group.objects.get_or_create(name="platform")
        services.create_api(
            actor=Actor.system("demo loader"),
            slug="demo",
            name="Demo API",
            team=team,
            description="A small example policy to explore the dashboard with.",
            environment="staging",
            paths="^/api/",
            methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            request_headers=["authorization", "content-type"],
            expose_headers=["x-request-id"],
            allow_credentials=True,
            max_age=600,
            origins=[
                {"kind": "exact", "value": "https://app.example.com", "note": "web app"},
                {"kind": "exact", "value": "http://localhost:3000", "note": "local dev"},
                {"kind": "wildcard", "value": "https://*.preview.example.com"},
            ],
            comment="demo data",
        )
        self.stdout.write("Loaded demo API 'demo' (team 'platform').")
