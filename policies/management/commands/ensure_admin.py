"""Create the first superuser if it does not exist; print its password once."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from corsadmin import env


class Command(BaseCommand):
    help = (
        "Create the admin account (CORSADMIN_ADMIN_USER, default 'admin') if missing. The "
        "password comes from CORSADMIN_ADMIN_PASSWORD, or the file CORSADMIN_ADMIN_PASSWORD_FILE "
        "names (a mounted secret), or is generated and printed once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("CORSADMIN_ADMIN_USER", "admin")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin account {username!r} exists (password unchanged).")
            return
        given = os.environ.get("CORSADMIN_ADMIN_PASSWORD") or env.secret_file(
            "CORSADMIN_ADMIN_PASSWORD_FILE"
        )
        password = given or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if given:
            self.stdout.write(f"Created admin account {username!r} with the given password.")
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin account {username!r} with password: {password}\n"
                    "It is shown only this once: store it or change it."
                )
            )
