"""Failed logins and lockouts are audited with the name tried and the client address."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.test import RequestFactory

from policies.models import AuditEvent

pytestmark = pytest.mark.django_db


def _attempt(username: str, password: str) -> None:
    request = RequestFactory().post(
        "/accounts/login/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="curl/8"
    )
    authenticate(request=request, username=username, password=password)


def test_login__wrong_password__login_failed_event_with_ip(member: User) -> None:
    # When someone tries mia's account with a wrong password
    _attempt("mia", "wrong")
    # Then the attempt is recorded, naming the account and the address, never the password
    event = AuditEvent.objects.get()
    assert (event.action, event.object_repr, event.actor_ip, event.user_agent) == (
        "auth.login_failed",
        "mia",
        "203.0.113.9",
        "curl/8",
    )
    assert "wrong" not in str(event.after)


def test_login__repeated_failures__lockout_event(member: User, settings) -> None:
    # Given the lockout threshold of 5 (settings), when 5 attempts fail
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _attempt("mia", "wrong")
    # Then the fifth locks the account out, and that is audited once, beside the failures
    # (axes announces the lockout while handling the fifth failure, so it comes first)
    actions = list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))
    assert actions.count("auth.login_failed") == settings.AXES_FAILURE_LIMIT
    assert actions.count("auth.lockout") == 1
    assert "auth.lockout" in actions[-2:]


def test_login__right_password__no_event(member: User) -> None:
    _attempt("mia", "pw-mia-12345")
    assert not AuditEvent.objects.exists()
