"""The standard cast: one organization with an owner, a teammate, an observer and a guest, a
support team with a team-inbox account, and an outsider in another organization."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client

from inboxes.models import Account, DeliveryMode, Membership, Organization, Role, Team, TeamRole, User
from tests.factories import (
    PASSWORD,
    AccountFactory,
    MembershipFactory,
    OrganizationFactory,
    TeamFactory,
    UserFactory,
    add_to_team,
)

pytest_plugins = ["tests.imap_fixtures", "tests.smtp_fixtures"]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Redis outlives a test's rolled-back transaction; cached counts must not leak across."""
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Real hashing costs ~0.3 s per password; the suite creates hundreds of users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Cast:
    org: Organization
    owner: User
    teammate: User
    observer: User
    guest: User
    support: Team
    support_account: Account
    personal_account: Account
    other_org: Organization
    outsider: User
    outsider_account: Account
    outsider_team: Team


@pytest.fixture
def tmp_storage(settings, tmp_path):
    """Stored files in a folder of the test's own: content-addressed files written by another test
    would otherwise already exist."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    return tmp_path


@pytest.fixture
def cast(db) -> Cast:
    org = OrganizationFactory(name="Acme")
    owner = UserFactory(email="owner@acme.test", name="Olivia Owner")
    teammate = UserFactory(email="teammate@acme.test", name="Tom Teammate")
    observer = UserFactory(email="observer@acme.test", name="Oscar Observer")
    guest = UserFactory(email="guest@acme.test", name="Gina Guest")
    MembershipFactory(organization=org, user=owner, role=Role.OWNER)
    MembershipFactory(organization=org, user=teammate, role=Role.MEMBER)
    MembershipFactory(organization=org, user=observer, role=Role.MEMBER)
    MembershipFactory(organization=org, user=guest, role=Role.GUEST)
    support = TeamFactory(organization=org, name="Support")
    add_to_team(support, owner)
    add_to_team(support, teammate)
    add_to_team(support, observer, TeamRole.OBSERVER)
    support_account = AccountFactory(
        organization=org,
        owner=owner,
        address="support@acme.test",
        is_shared=True,
        delivery_mode=DeliveryMode.TEAM_INBOX,
        team=support,
    )
    personal_account = AccountFactory(organization=org, owner=owner, address="olivia@acme.test")

    other_org = OrganizationFactory(name="Globex")
    outsider = UserFactory(email="outsider@globex.test", name="Xavier Outsider")
    MembershipFactory(organization=other_org, user=outsider, role=Role.OWNER)
    outsider_team = TeamFactory(organization=other_org, name="Globex Support")
    add_to_team(outsider_team, outsider)
    outsider_account = AccountFactory(
        organization=other_org,
        owner=outsider,
        address="help@globex.test",
        is_shared=True,
        delivery_mode=DeliveryMode.TEAM_INBOX,
        team=outsider_team,
    )
    return Cast(
        org,
        owner,
        teammate,
        observer,
        guest,
        support,
        support_account,
        personal_account,
        other_org,
        outsider,
        outsider_account,
        outsider_team,
    )


def login(client: Client, user: User) -> Client:
    assert client.login(username=user.email, password=PASSWORD)
    return client


@pytest.fixture
def owner_client(client: Client, cast: Cast) -> Client:
    return login(client, cast.owner)


@pytest.fixture
def membership(cast: Cast) -> Membership:
    return Membership.objects.get(organization=cast.org, user=cast.owner)
