"""Actions added for the settings pages."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from inboxes.actions import do_delete_team, do_invite_user, do_sign_up_with_invitation, do_update_team
from inboxes.models import Account, DeliveryMode, Team, TeamMembership
from tests.conftest import Cast
from tests.factories import AccountFactory, TeamFactory


def test_deleting_a_team_fed_by_an_account_is_refused(cast: Cast) -> None:
    with pytest.raises(ValidationError, match="support@acme.test"):
        do_delete_team(cast.support)
    assert Team.objects.filter(id=cast.support.id).exists()


def test_team_can_be_deleted_once_its_account_moved(cast: Cast) -> None:
    sales = TeamFactory(organization=cast.org, name="Sales")
    Account.objects.filter(id=cast.support_account.id).update(team=sales)
    do_delete_team(cast.support)
    assert not Team.objects.filter(id=cast.support.id).exists()
    assert not TeamMembership.objects.filter(team_id=cast.support.id).exists()


def test_deleting_a_team_keeps_accounts_that_only_mention_it(cast: Cast) -> None:
    team = TeamFactory(organization=cast.org, name="Sales")
    account = AccountFactory(organization=cast.org, owner=cast.owner, team=team, delivery_mode=DeliveryMode.INBOX)
    do_delete_team(team)
    account.refresh_from_db()
    assert account.team_id is None


def test_update_team_saves_every_option(cast: Cast) -> None:
    do_update_team(
        cast.support,
        name="Help",
        emoji="🛟",
        color="#000000",
        has_inbox=False,
        has_chat_room=True,
        show_team_space=False,
        mention_adds_observers=True,
        assign_on_reply=False,
        reply_to_assigned_goes_to_team_inbox=True,
        inactivity_period=259200,
    )
    team = Team.objects.get(id=cast.support.id)
    assert team.inactivity_period == 259200
    assert (team.name, team.emoji, team.has_inbox, team.has_chat_room) == ("Help", "🛟", False, True)
    assert team.show_team_space is False
    assert (team.mention_adds_observers, team.assign_on_reply, team.reply_to_assigned_goes_to_team_inbox) == (
        True,
        False,
        True,
    )


def test_sign_up_with_invitation_creates_the_member(cast: Cast) -> None:
    invitation = do_invite_user(
        cast.org, email="new@acme.test", role="guest", teams=[cast.support], invited_by=cast.owner
    )
    user = do_sign_up_with_invitation(invitation, name="New Person", password="x-long-enough-password")
    assert user.memberships.get().role == "guest"
    assert TeamMembership.objects.filter(team=cast.support, user=user).exists()
