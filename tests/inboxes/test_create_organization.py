"""manage.py create_organization: the first organization and owner of a fresh installation."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from inboxes.models import Membership, Organization, Role, User
from tests.factories import PASSWORD, UserFactory

STRONG = "violet-harbour-lantern-77"


def run(monkeypatch: pytest.MonkeyPatch, password: str | None, *args: str) -> None:
    if password is None:
        monkeypatch.delenv("OWNER_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("OWNER_PASSWORD", password)
    call_command("create_organization", *args)


def test_creates_owner_and_organization(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    run(monkeypatch, STRONG, "--name", "Acme", "--owner-email", "Boss@Acme.test", "--owner-name", "Bea Boss")
    user = User.objects.get(email="boss@acme.test")
    assert user.name == "Bea Boss"
    assert user.check_password(STRONG)
    membership = Membership.objects.get(user=user)
    assert (membership.organization.name, membership.role) == ("Acme", Role.OWNER)


def test_refuses_to_run_without_owner_password(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CommandError, match="OWNER_PASSWORD"):
        run(monkeypatch, None, "--name", "Acme", "--owner-email", "boss@acme.test")
    assert not User.objects.exists()
    assert not Organization.objects.exists()


def test_refuses_a_weak_password(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CommandError, match="too weak"):
        run(monkeypatch, "password", "--name", "Acme", "--owner-email", "boss@acme.test")
    assert not User.objects.exists()


def test_reuses_an_existing_user_and_keeps_their_password(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    user = UserFactory(email="boss@acme.test")
    run(monkeypatch, STRONG, "--name", "Second Co", "--owner-email", "boss@acme.test")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert Membership.objects.get(user=user, organization__name="Second Co").role == Role.OWNER


def test_running_twice_creates_one_organization(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(2):
        run(monkeypatch, STRONG, "--name", "Acme", "--owner-email", "boss@acme.test")
    assert Organization.objects.filter(name="Acme").count() == 1
    assert User.objects.count() == 1
