"""The emailed invitation link: every path from the email to the inbox."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from inboxes.actions import do_invite_user, do_revoke_invitation
from inboxes.models import Invitation, Membership, Role, TeamMembership, TeamRole, User
from tests.conftest import Cast, login
from tests.factories import PASSWORD, UserFactory, receive


@pytest.fixture
def invite(cast: Cast, django_capture_on_commit_callbacks):
    """Invite an email through the real action and return the link's path from the sent email."""

    def invite(email: str, role: str = Role.MEMBER, teams=()) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            do_invite_user(cast.org, email=email, role=role, teams=teams, invited_by=cast.owner)
        return re.search(r"/invitations/[^/\s]+/", mail.outbox[-1].body).group(0)

    return invite


def test_new_person_creates_account_joins_teams_and_sees_team_conversations(client: Client, cast: Cast, invite) -> None:
    receive(cast.support_account, subject="Broken widget")
    link = invite("newbie@acme.test", teams=[cast.support])

    page = client.get(link)
    assert page.status_code == 200
    assert "Join Acme" in page.content.decode()
    assert "newbie@acme.test" in page.content.decode()

    response = client.post(link, {"name": "Nina Newbie", "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("home")
    user = User.objects.get(email="newbie@acme.test")
    assert user.name == "Nina Newbie"
    assert user.check_password(PASSWORD)
    assert Membership.objects.get(organization=cast.org, user=user).role == Role.MEMBER
    assert TeamMembership.objects.get(team=cast.support, user=user).role == TeamRole.ACTIVE
    team_inbox = client.get(reverse("team_mailbox", args=[cast.support.id, "inbox"]))
    assert "Broken widget" in team_inbox.content.decode()
    assert Invitation.objects.get().accepted_at is not None


def test_sign_up_checks_passwords_with_django_validators(client: Client, cast: Cast, invite) -> None:
    link = invite("newbie@acme.test")
    response = client.post(link, {"name": "Nina", "password1": "newbie@acme", "password2": "newbie@acme"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "too similar to the email" in body
    assert not User.objects.filter(email="newbie@acme.test").exists()


def test_sign_up_needs_the_same_password_twice(client: Client, cast: Cast, invite) -> None:
    link = invite("newbie@acme.test")
    response = client.post(link, {"name": "Nina", "password1": PASSWORD, "password2": PASSWORD + "x"})
    assert "The two passwords differ." in response.content.decode()
    assert not User.objects.filter(email="newbie@acme.test").exists()


def test_signed_in_invitee_joins_at_once(client: Client, cast: Cast, invite) -> None:
    link = invite(cast.outsider.email, role=Role.ADMIN, teams=[cast.support])
    login(client, cast.outsider)
    response = client.get(link)
    assert response.url == reverse("home")
    assert Membership.objects.get(organization=cast.org, user=cast.outsider).role == Role.ADMIN
    assert TeamMembership.objects.filter(team=cast.support, user=cast.outsider).exists()
    assert client.get(reverse("settings_users", args=[cast.org.id])).status_code == 200


def test_existing_account_signs_in_first_and_comes_back(client: Client, cast: Cast, invite) -> None:
    link = invite(cast.outsider.email)
    response = client.get(link)
    assert response.status_code == 302
    assert response.url == f"{reverse('account_login')}?next={link}"
    assert not Membership.objects.filter(organization=cast.org, user=cast.outsider).exists()

    response = client.post(response.url, {"login": cast.outsider.email, "password": PASSWORD})
    assert response.url == link
    client.get(link)
    assert Membership.objects.filter(organization=cast.org, user=cast.outsider).exists()


def test_signed_in_as_someone_else_is_told_to_sign_out(client: Client, cast: Cast, invite) -> None:
    link = invite("newbie@acme.test")
    login(client, cast.teammate)
    response = client.get(link)
    assert response.status_code == 403
    assert "newbie@acme.test" in response.content.decode()
    assert not User.objects.filter(email="newbie@acme.test").exists()
    assert Invitation.objects.get().accepted_at is None


def test_used_link_is_a_clear_404(client: Client, cast: Cast, invite) -> None:
    link = invite("newbie@acme.test")
    client.post(link, {"name": "Nina", "password1": PASSWORD, "password2": PASSWORD})
    response = Client().get(link)
    assert response.status_code == 404
    assert "This invitation link no longer works" in response.content.decode()


def test_revoked_link_is_a_404(client: Client, cast: Cast, invite) -> None:
    link = invite("newbie@acme.test")
    do_revoke_invitation(Invitation.objects.get())
    assert client.get(link).status_code == 404
    assert client.post(link, {"name": "Nina", "password1": PASSWORD, "password2": PASSWORD}).status_code == 404
    assert not User.objects.filter(email="newbie@acme.test").exists()


def test_expired_link_is_a_404(client: Client, cast: Cast, invite) -> None:
    link = invite("newbie@acme.test")
    Invitation.objects.update(expires_at="2000-01-01T00:00:00Z")
    assert client.get(link).status_code == 404


def test_renewed_invitation_replaces_the_old_link(client: Client, cast: Cast, invite) -> None:
    old = invite("newbie@acme.test")
    new = invite("newbie@acme.test")
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_made_up_token_is_a_404(client: Client, db: None) -> None:
    assert client.get(reverse("invitation_accept", args=["not-a-real-token"])).status_code == 404


def test_invited_existing_user_elsewhere_keeps_their_password(client: Client, cast: Cast, invite) -> None:
    user = UserFactory(email="known@example.com")
    link = invite("known@example.com")
    client.post(link, {"name": "Imposter", "password1": "x" * 20, "password2": "x" * 20})
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not Membership.objects.filter(organization=cast.org, user=user).exists()
