"""The access menu: adding people and teams (in their Inbox or archived for reference, the
choice remembered) and removing someone's access at once."""

import pytest
from django.urls import reverse

from conversations.actions import ActionRefused, do_assign_conversation, do_remove_access, do_share_conversation
from conversations.models import AccessSource, ConversationEvent, EventKind, Location
from tests.conftest import login
from tests.factories import MembershipFactory, TeamFactory, UserFactory, add_to_team, receive, state_of

pytestmark = pytest.mark.django_db


def _private(cast):
    return receive(cast.personal_account, subject="Supplier contract").conversation


def test_adding_people_shows_it_in_their_inbox_and_shares_it(cast):
    conversation = _private(cast)

    do_share_conversation(conversation, acting_user=cast.owner, users=[cast.teammate], show_in_inbox=True)

    state = state_of(conversation, cast.teammate)
    assert (state.access_source, state.location, state.unread) == (AccessSource.ADDED, Location.INBOX, True)
    conversation.refresh_from_db()
    assert conversation.is_shared
    event = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.SHARED)
    assert event.data["target"] == "Tom Teammate"
    assert cast.owner.share_shows_in_inbox


def test_without_show_in_inbox_they_get_archived_access_and_the_choice_is_remembered(cast):
    conversation = _private(cast)

    do_share_conversation(conversation, acting_user=cast.owner, users=[cast.guest], show_in_inbox=False)

    state = state_of(conversation, cast.guest)
    assert (state.location, state.unread) == (Location.ARCHIVED, False)
    cast.owner.refresh_from_db()
    assert not cast.owner.share_shows_in_inbox


def test_adding_a_team_adds_its_members(cast):
    conversation = _private(cast)
    desk = TeamFactory(organization=cast.org, name="Legal")
    lawyer = UserFactory(name="Lena Lawyer")
    MembershipFactory(organization=cast.org, user=lawyer)
    add_to_team(desk, lawyer)

    do_share_conversation(conversation, acting_user=cast.owner, teams=[desk, cast.support], show_in_inbox=True)

    for user in (lawyer, cast.teammate, cast.observer):
        assert state_of(conversation, user).location == Location.INBOX
    event = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.SHARED)
    assert event.data["target"] == f"{desk}, {cast.support}"


def test_nobody_outside_the_organization_is_added(cast):
    conversation = _private(cast)
    with pytest.raises(ActionRefused):
        do_share_conversation(conversation, acting_user=cast.owner, users=[cast.outsider], show_in_inbox=True)
    with pytest.raises(ActionRefused):
        do_share_conversation(conversation, acting_user=cast.owner, teams=[cast.outsider_team], show_in_inbox=True)
    with pytest.raises(ActionRefused):
        do_share_conversation(conversation, acting_user=cast.teammate, users=[cast.guest], show_in_inbox=True)
    assert list(conversation.states.values_list("user_id", flat=True)) == [cast.owner.id]


def test_removing_someone_takes_their_access_and_assignment_at_once(client, cast):
    conversation = receive(cast.support_account, subject="Refund").conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)

    do_remove_access(conversation, cast.teammate, acting_user=cast.owner)

    assert state_of(conversation, cast.teammate) is None
    assert not conversation.assignments.exists()
    conversation.refresh_from_db()
    assert conversation.in_team_inbox, "nobody left assigned: back to the team inbox"
    assert ConversationEvent.objects.filter(kind=EventKind.ACCESS_REMOVED, data__target="Tom Teammate").exists()
    login(client, cast.teammate)
    assert client.get(reverse("conversation", args=["all", conversation.id])).status_code == 404


def test_the_access_menu_through_the_view(client, cast):
    conversation = _private(cast)
    login(client, cast.owner)
    url = reverse("conversation_action", args=[conversation.id, "share"])
    headers = {"HX-Request": "true"}

    page = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()
    assert f'name="user_ids" value="{cast.teammate.id}"' in page and 'name="show_in_inbox" value="1" checked' in page
    assert str(cast.outsider.id) not in page

    client.post(url, {"user_ids": [str(cast.teammate.id)], "return_to": "/m/all/"}, headers=headers)
    assert state_of(conversation, cast.teammate).location == Location.ARCHIVED, "unchecked: for reference"
    page = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()
    assert 'name="show_in_inbox" value="1" checked' not in page, "remembered"

    refused = client.post(url, {"user_ids": [str(cast.outsider.id)], "return_to": "/m/all/"}, headers=headers)
    assert "organization" in refused.content.decode() and state_of(conversation, cast.outsider) is None
    remove = reverse("conversation_action", args=[conversation.id, "remove_access"])
    client.post(remove, {"user_id": str(cast.teammate.id), "return_to": "/m/all/"}, headers=headers)
    assert state_of(conversation, cast.teammate) is None
    assert client.post(reverse("bulk_action", args=["share"]), {"ids": [str(conversation.id)]}).status_code == 404
