from __future__ import annotations

from typing import Any

import pytest
import redis
from django.contrib.auth.models import Group, User
from django.test import Client

from policies import services
from policies.actors import Actor
from policies.models import Api
from policies.permissions import READ_ONLY_GROUP


@pytest.fixture
def team(db: None) -> Group:
    return Group.objects.create(name="payments")


@pytest.fixture
def other_team(db: None) -> Group:
    return Group.objects.create(name="search")


@pytest.fixture
def member(team: Group) -> User:
    user = User.objects.create_user("mia", password="pw-mia-12345")
    user.groups.add(team)
    return user


@pytest.fixture
def outsider(other_team: Group) -> User:
    user = User.objects.create_user("oscar", password="pw-oscar-12345")
    user.groups.add(other_team)
    return user


# Logged-in dashboard clients (Django's test client) for each role.


@pytest.fixture
def member_client(member: User) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def outsider_client(outsider: User) -> Client:
    client = Client()
    client.force_login(outsider)
    return client


@pytest.fixture
def read_only_client(team: Group) -> Client:
    user = User.objects.create_user("rita", password="pw-rita-12345")
    user.groups.add(team, Group.objects.get_or_create(name=READ_ONLY_GROUP)[0])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def actor(member: User) -> Actor:
    return Actor.for_user(member)


@pytest.fixture
def api(actor: Actor, team: Group) -> Api:
    return services.create_api(
        actor=actor,
        slug="billing",
        name="Billing",
        team=team,
        environment="staging",
        origins=[{"kind": "exact", "value": "https://app.example.com"}],
    )


@pytest.fixture
def use_redis(settings: Any, redis_client: redis.Redis) -> redis.Redis:
    """Central uses the test Redis for documents, tokens and publishing."""
    settings.REDIS_URL = _url(redis_client)
    return redis_client


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"
