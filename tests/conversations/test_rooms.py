"""Chat rooms: the organization's room, team rooms following the Chat room option and team
membership, 1-1 rooms created once per pair, rooms as chat-only conversations (what they refuse,
what they allow), the sidebar and the Rooms mailbox, and isolation."""

import importlib
import threading
import time
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from conversations.actions import (
    ActionRefused,
    do_archive,
    do_assign_conversation,
    do_close,
    do_delete_forever,
    do_edit_comment,
    do_mark_spam,
    do_move_to_team,
    do_post_comment,
    do_remove_access,
    do_restore,
    do_set_watching,
    do_share_conversation,
    do_snooze,
    do_toggle_reaction,
    do_trash,
    do_unsnooze,
)
from conversations.models import (
    AccessSource,
    Conversation,
    ConversationKind,
    ConversationState,
    EventKind,
    Location,
    Room,
    Status,
)
from conversations.rooms import (
    SIDEBAR_COWORKERS,
    do_create_organization_room,
    do_open_direct_room,
    do_sync_team_room,
    room_url,
)
from inboxes.actions import (
    do_accept_invitation,
    do_create_organization,
    do_delete_team,
    do_invite_user,
    do_remove_member,
    do_set_team_members,
    do_update_team,
)
from inboxes.models import Membership, Role
from tests.conftest import login
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    TeamFactory,
    UserFactory,
    add_to_team,
    receive,
    state_of,
)

pytestmark = pytest.mark.django_db


def _members(conversation):
    return set(ConversationState.objects.filter(conversation=conversation).values_list("user__email", flat=True))


def _general(cast):
    """The organization's room, as on creation of an organization (the cast is built by factories)."""
    return do_create_organization_room(cast.org)


def _set_chat_room(team, on, **changes):
    values = {
        "name": team.name,
        "emoji": team.emoji,
        "color": team.color,
        "has_inbox": team.has_inbox,
        "has_chat_room": on,
        "show_team_space": team.show_team_space,
        "mention_adds_observers": team.mention_adds_observers,
        "assign_on_reply": team.assign_on_reply,
        "reply_to_assigned_goes_to_team_inbox": team.reply_to_assigned_goes_to_team_inbox,
        "inactivity_period": team.inactivity_period,
    }
    do_update_team(team, **{**values, **changes})
    return Conversation.objects.filter(kind=ConversationKind.TEAM_ROOM, room__team=team).first()


EVERYONE = {"owner@acme.test", "teammate@acme.test", "observer@acme.test", "guest@acme.test"}
SUPPORT = {"owner@acme.test", "teammate@acme.test", "observer@acme.test"}


# --- Organization room ----------------------------------------------------------------------------


def test_a_new_organization_gets_its_room_with_its_owner_in_it():
    owner = UserFactory(email="founder@initech.test")

    organization = do_create_organization(name="Initech", owner=owner)

    room = Conversation.objects.get(organization=organization)
    assert room.kind == ConversationKind.ORG_ROOM and room.is_room and room.subject == "General"
    assert Room.objects.get(conversation=room).kind == ConversationKind.ORG_ROOM
    state = state_of(room, owner)
    assert state.access_source == AccessSource.ROOM
    assert state.location == Location.NONE and not state.unread and not state.watching


def test_every_member_is_in_the_organization_room_and_newcomers_join_it(cast):
    room = _general(cast)
    assert _members(room) == EVERYONE

    invitation = do_invite_user(cast.org, email="new@acme.test", role=Role.MEMBER, teams=[], invited_by=cast.owner)
    newcomer = UserFactory(email="new@acme.test")
    do_accept_invitation(invitation, user=newcomer)

    assert _members(room) == EVERYONE | {"new@acme.test"}
    assert Room.objects.filter(organization=cast.org, kind=ConversationKind.ORG_ROOM).count() == 1
    assert not Room.objects.filter(organization=cast.other_org).exists()


def test_a_member_added_any_other_way_joins_the_room_too(cast):
    """As the demo data does: a membership row made without an invitation."""
    room = _general(cast)
    newcomer = UserFactory(email="demo@acme.test")

    MembershipFactory(organization=cast.org, user=newcomer)

    assert state_of(room, newcomer).access_source == AccessSource.ROOM


def test_members_of_an_organization_without_a_room_get_none_from_joining(cast):
    MembershipFactory(organization=cast.other_org, user=cast.teammate)
    assert not ConversationState.objects.filter(organization=cast.other_org).exists()


def test_a_member_who_leaves_the_organization_leaves_its_room(cast):
    room = _general(cast)
    owner = Membership.objects.get(organization=cast.org, user=cast.owner)

    do_remove_member(Membership.objects.get(organization=cast.org, user=cast.teammate), acting=owner)

    assert _members(room) == EVERYONE - {"teammate@acme.test"}


def test_a_second_organization_room_is_refused_by_the_database(cast):
    room = _general(cast)
    other = Conversation.objects.create(organization=cast.org, kind=ConversationKind.ORG_ROOM)
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(conversation=other, organization=cast.org, kind=ConversationKind.ORG_ROOM)
    assert do_create_organization_room(cast.org) == room


def test_the_migration_creates_rooms_for_existing_organizations_and_teams(cast):
    """The data step of 0016 on organizations and teams made before rooms existed."""
    migration = importlib.import_module("conversations.migrations.0019_rooms")
    cast.support.has_chat_room = True
    cast.support.save(update_fields=["has_chat_room"])
    TeamFactory(organization=cast.org, name="Sales")  # Chat room: No

    migration.create_rooms(django_apps, None)
    migration.create_rooms(django_apps, None)  # running again creates nothing more

    general = Conversation.objects.get(organization=cast.org, kind=ConversationKind.ORG_ROOM)
    assert _members(general) == EVERYONE
    support = Conversation.objects.get(kind=ConversationKind.TEAM_ROOM)
    assert support.team == cast.support and support.room.team == cast.support
    assert _members(support) == SUPPORT
    assert state_of(support, cast.teammate).access_source == AccessSource.TEAM
    assert _members(Conversation.objects.get(organization=cast.other_org)) == {"outsider@globex.test"}
    assert Room.objects.count() == 3


# --- Team rooms -----------------------------------------------------------------------------------


def test_turning_the_chat_room_on_creates_the_team_room_for_active_members_and_observers(cast):
    room = _set_chat_room(cast.support, True)

    assert room.kind == ConversationKind.TEAM_ROOM and room.team == cast.support
    assert room.subject == str(cast.support)
    assert _members(room) == SUPPORT
    assert state_of(room, cast.observer).access_source == AccessSource.TEAM
    assert state_of(room, cast.guest) is None and state_of(room, cast.outsider) is None
    assert not room.in_team_inbox, "a room never waits in the team inbox"


def test_team_room_members_follow_team_membership(cast):
    room = _set_chat_room(cast.support, True)

    do_set_team_members(cast.support, active=[cast.owner.id, cast.guest.id], observers=[cast.teammate.id])

    assert _members(room) == {"owner@acme.test", "guest@acme.test", "teammate@acme.test"}


def test_turning_the_chat_room_off_keeps_it_read_only_and_on_again_brings_the_same_room_back(cast):
    room = _set_chat_room(cast.support, True)
    comment = do_post_comment(room, author=cast.teammate, body="Standup at 10")

    assert _set_chat_room(cast.support, False) == room
    room.refresh_from_db()
    assert room.is_room_turned_off
    with pytest.raises(ActionRefused, match="turned off"):
        do_post_comment(room, author=cast.owner, body="Anyone?")
    with pytest.raises(ActionRefused, match="turned off"):
        do_edit_comment(room, str(comment.id), acting_user=cast.teammate, body="Standup at 11")
    with pytest.raises(ActionRefused, match="turned off"):
        do_toggle_reaction(room, str(comment.id), acting_user=cast.owner, emoji="👍")
    assert room.comments.count() == 1 and _members(room) == SUPPORT

    assert _set_chat_room(cast.support, True) == room
    room.refresh_from_db()
    assert not room.is_room_turned_off
    do_post_comment(room, author=cast.owner, body="Back")
    assert room.comments.count() == 2
    assert Room.objects.filter(team=cast.support).count() == 1


def test_the_team_room_takes_the_teams_new_name(cast):
    room = _set_chat_room(cast.support, True)
    _set_chat_room(cast.support, True, name="Helpdesk", emoji="🛟")
    room.refresh_from_db()
    assert room.subject == "🛟 Helpdesk"


def test_a_deleted_team_takes_its_room_along(cast):
    sales = TeamFactory(organization=cast.org, name="Sales")
    add_to_team(sales, cast.teammate)
    room = _set_chat_room(sales, True)

    do_delete_team(sales)

    assert not Conversation.objects.filter(id=room.id).exists()


def test_a_team_with_chat_room_off_has_no_room(cast):
    assert _set_chat_room(cast.support, False) is None
    assert do_sync_team_room(cast.support) is None
    assert not Conversation.objects.filter(kind=ConversationKind.TEAM_ROOM).exists()


def test_the_team_settings_form_turns_the_room_on(cast, client):
    login(client, cast.owner)
    data = {
        "name": "Support",
        "emoji": "⛑️",
        "color": "#2563eb",
        "has_inbox": "on",
        "has_chat_room": "on",
        "show_team_space": "True",
        "mention_adds_observers": "False",
        "assign_on_reply": "True",
        "reply_to_assigned_goes_to_team_inbox": "False",
    }
    response = client.post(reverse("settings_team_update", args=[cast.org.id, cast.support.id]), data)
    assert response.status_code == 302
    assert _members(Conversation.objects.get(kind=ConversationKind.TEAM_ROOM, team=cast.support)) == SUPPORT


# --- 1-1 rooms ------------------------------------------------------------------------------------


def test_a_1_1_room_is_created_the_first_time_and_found_again_from_either_side(cast):
    room = do_open_direct_room(cast.org, acting_user=cast.owner, coworker=cast.teammate)

    assert room.kind == ConversationKind.DIRECT and room.is_shared
    assert _members(room) == {"owner@acme.test", "teammate@acme.test"}
    assert state_of(room, cast.owner).watching and state_of(room, cast.teammate).watching
    pair = Room.objects.get(conversation=room)
    assert pair.user_low_id < pair.user_high_id
    assert {pair.user_low_id, pair.user_high_id} == {cast.owner.id, cast.teammate.id}
    assert room.events.get().kind == EventKind.CREATED

    assert do_open_direct_room(cast.org, acting_user=cast.teammate, coworker=cast.owner) == room
    assert do_open_direct_room(cast.org, acting_user=cast.owner, coworker=cast.teammate) == room
    assert Room.objects.filter(kind=ConversationKind.DIRECT).count() == 1
    assert do_open_direct_room(cast.org, acting_user=cast.owner, coworker=cast.observer) != room


def test_a_second_room_for_the_same_pair_is_refused_by_the_database(cast):
    room = do_open_direct_room(cast.org, acting_user=cast.owner, coworker=cast.teammate)
    pair = Room.objects.get(conversation=room)
    twin = Conversation.objects.create(organization=cast.org, kind=ConversationKind.DIRECT)

    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(
            conversation=twin,
            organization=cast.org,
            kind=ConversationKind.DIRECT,
            user_low_id=pair.user_low_id,
            user_high_id=pair.user_high_id,
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # the same pair, unsorted
        Room.objects.create(
            conversation=twin,
            organization=cast.org,
            kind=ConversationKind.DIRECT,
            user_low_id=pair.user_high_id,
            user_high_id=pair.user_low_id,
        )


def test_no_1_1_room_with_yourself_or_someone_of_another_organization(cast):
    with pytest.raises(ActionRefused):
        do_open_direct_room(cast.org, acting_user=cast.owner, coworker=cast.owner)
    with pytest.raises(ActionRefused):
        do_open_direct_room(cast.org, acting_user=cast.owner, coworker=cast.outsider)
    assert not Room.objects.exists()


def test_a_returning_member_gets_their_1_1_room_back(cast):
    room = do_open_direct_room(cast.org, acting_user=cast.owner, coworker=cast.teammate)
    do_post_comment(room, author=cast.owner, body="Welcome!")
    owner = Membership.objects.get(organization=cast.org, user=cast.owner)
    do_remove_member(Membership.objects.get(organization=cast.org, user=cast.teammate), acting=owner)
    assert state_of(room, cast.teammate) is None

    MembershipFactory(organization=cast.org, user=cast.teammate)
    assert do_open_direct_room(cast.org, acting_user=cast.teammate, coworker=cast.owner) == room
    assert state_of(room, cast.teammate).watching


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_openings_make_one_room(cast):
    """The second opening does not see the first one's uncommitted room, inserts its own, waits
    on the unique index until the first commits, then returns the first one's room."""
    found = {}

    def open_from_teammate():
        try:
            found["room"] = do_open_direct_room(cast.org, acting_user=cast.teammate, coworker=cast.owner)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            found["error"] = error
        finally:
            connection.close()

    with transaction.atomic():
        first = do_open_direct_room(cast.org, acting_user=cast.owner, coworker=cast.teammate)
        other = threading.Thread(target=open_from_teammate)
        other.start()
        with connection.cursor() as cursor:
            for _ in range(200):  # until the other opening waits on our row lock
                # Activity is read once per transaction unless its snapshot is cleared.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.025)
            else:
                pytest.fail("The second opening never waited for the first.")
    other.join(timeout=10)

    assert "error" not in found, found.get("error")
    assert found["room"] == first
    assert Room.objects.filter(kind=ConversationKind.DIRECT).count() == 1
    assert Conversation.objects.filter(kind=ConversationKind.DIRECT).count() == 1


# --- Rooms are chat: what they refuse ---------------------------------------------------------------


@pytest.fixture
def rooms(cast):
    return {
        "general": _general(cast),
        "team": _set_chat_room(cast.support, True),
        "direct": do_open_direct_room(cast.org, acting_user=cast.owner, coworker=cast.teammate),
    }


@pytest.mark.parametrize("kind", ["general", "team", "direct"])
def test_rooms_cannot_be_assigned_closed_moved_or_marked_as_spam(cast, rooms, kind):
    room = rooms[kind]
    sales = TeamFactory(organization=cast.org, name="Sales")

    with pytest.raises(ActionRefused, match="Chat rooms cannot be assigned"):
        do_assign_conversation(room, [cast.owner], acting_user=cast.owner)
    with pytest.raises(ActionRefused, match="Chat rooms cannot be closed"):
        do_close(room, acting_user=cast.owner)
    with pytest.raises(ActionRefused, match="Chat rooms cannot be moved"):
        do_move_to_team(room, sales, acting_user=cast.owner)
    with pytest.raises(ActionRefused, match="Chat rooms cannot be marked as spam"):
        do_mark_spam(room, acting_user=cast.owner)
    with pytest.raises(ActionRefused, match="snoozed for yourself only"):
        do_snooze(room, acting_user=cast.owner, until=_tomorrow(), for_everyone=True)

    room.refresh_from_db()
    assert room.status == Status.OPEN and not room.assignments.exists() and not room.is_spam
    assert room.snoozed_until is None
    assert state_of(room, cast.owner).location == Location.NONE


def test_nobody_is_added_to_or_removed_from_a_room_by_hand(cast, rooms):
    room = rooms["direct"]
    with pytest.raises(ActionRefused, match="cannot be shared"):
        do_share_conversation(room, acting_user=cast.owner, users=[cast.observer], show_in_inbox=True)
    with pytest.raises(ActionRefused, match="nobody is removed"):
        do_remove_access(room, cast.teammate, acting_user=cast.owner)
    assert _members(room) == {"owner@acme.test", "teammate@acme.test"}


def test_a_mention_in_a_1_1_room_gives_nobody_else_access(cast, rooms):
    room = rooms["direct"]
    do_post_comment(room, author=cast.owner, body="Should we ask @observer?")
    assert _members(room) == {"owner@acme.test", "teammate@acme.test"}
    assert not room.events.filter(kind=EventKind.SHARED).exists()


def test_a_mention_in_the_organization_room_brings_it_to_that_members_inbox(cast, rooms):
    room = rooms["general"]
    do_post_comment(room, author=cast.owner, body="@teammate lunch?")
    assert state_of(room, cast.teammate).location == Location.INBOX and state_of(room, cast.teammate).unread
    assert state_of(room, cast.observer).location == Location.NONE and state_of(room, cast.observer).unread


def test_refusals_answer_with_a_clear_message(cast, rooms, client):
    login(client, cast.owner)
    room = rooms["team"]
    for action, message in [
        ("assign_me", "Chat rooms cannot be assigned."),
        ("close", "Chat rooms cannot be closed."),
        ("share", "rooms cannot be shared"),
    ]:
        response = client.post(
            reverse("conversation_action", args=[room.id, action]),
            {"return_to": room_url(room.id), "user_ids": [str(cast.guest.id)]},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200
        assert message in response.content.decode()
        assert response["HX-Retarget"] == "#toast"
    room.refresh_from_db()
    assert room.status == Status.OPEN and not room.assignments.exists()


def test_bulk_close_is_refused_for_a_selection_holding_a_room(cast, rooms, client):
    login(client, cast.owner)
    thread = receive(cast.support_account, subject="Broken printer").conversation
    do_assign_conversation(thread, [cast.owner], acting_user=cast.owner)

    response = client.post(
        reverse("bulk_action", args=["close"]),
        {"ids": [str(thread.id), str(rooms["direct"].id)], "return_to": "/m/inbox/"},
        HTTP_HX_REQUEST="true",
    )

    assert "Chat rooms cannot be assigned or closed" in response.content.decode()
    thread.refresh_from_db()
    assert thread.status == Status.OPEN, "nothing in the selection was closed"


# --- Rooms are conversations: archive, snooze, trash, watch, unread ---------------------------------


def _tomorrow():
    return timezone.now() + timedelta(days=1)


def test_a_room_is_archived_snoozed_trashed_and_restored_for_oneself(cast, rooms):
    room = rooms["general"]
    do_post_comment(room, author=cast.teammate, body="@owner hi")
    assert state_of(room, cast.owner).location == Location.INBOX

    do_archive(room, acting_user=cast.owner)
    assert state_of(room, cast.owner).location == Location.ARCHIVED
    do_snooze(room, acting_user=cast.owner, until=_tomorrow())
    assert state_of(room, cast.owner).location == Location.SNOOZED
    do_unsnooze(room, acting_user=cast.owner)
    do_trash(room, acting_user=cast.owner, from_team_inbox=True)  # a room has no team inbox: mine only
    assert state_of(room, cast.owner).location == Location.TRASHED
    assert state_of(room, cast.teammate).location != Location.TRASHED
    with pytest.raises(ActionRefused, match="cannot be deleted forever"):
        do_delete_forever(room, acting_user=cast.owner)
    do_restore(room, acting_user=cast.owner)
    assert state_of(room, cast.owner).location == Location.INBOX
    assert _members(room) == EVERYONE


def test_a_team_room_trashed_from_its_team_stays_the_teams(cast, rooms):
    room = rooms["team"]
    do_trash(room, acting_user=cast.teammate, from_team_inbox=True)
    room.refresh_from_db()
    assert room.team == cast.support
    assert state_of(room, cast.teammate).location == Location.TRASHED
    assert state_of(room, cast.owner).location == Location.NONE


def test_a_new_message_brings_a_room_back_to_the_inbox_of_its_watchers_only(cast, rooms):
    room = rooms["team"]
    do_set_watching(room, acting_user=cast.teammate, watching=True)
    do_archive(room, acting_user=cast.teammate)

    do_post_comment(room, author=cast.owner, body="Deploy done")

    assert state_of(room, cast.teammate).location == Location.INBOX and state_of(room, cast.teammate).unread
    assert state_of(room, cast.observer).location == Location.NONE and state_of(room, cast.observer).unread
    assert state_of(room, cast.owner).watching and not state_of(room, cast.owner).unread
    room.refresh_from_db()
    assert room.preview == "Olivia Owner: Deploy done"


def test_a_1_1_message_lands_in_the_other_persons_inbox(cast, rooms):
    room = rooms["direct"]
    do_post_comment(room, author=cast.owner, body="Got a minute?")
    assert state_of(room, cast.teammate).location == Location.INBOX and state_of(room, cast.teammate).unread
    assert state_of(room, cast.owner).location == Location.NONE


# --- Pages: the room, the sidebar, the Rooms mailbox ------------------------------------------------


def test_a_room_opens_as_a_chat_without_email_or_triage_controls(cast, rooms, client):
    login(client, cast.owner)
    room = rooms["team"]
    do_post_comment(room, author=cast.teammate, body="Hello <b>team</b>")

    page = client.get(room_url(room.id)).content.decode()
    body = page[page.index('id="conversation-pane"') : page.index('id="modal"')]

    assert 'class="pane-header conv-header room-header"' in body
    assert 'id="comment-box"' in body and "Write a message" in body
    assert "Hello &lt;b&gt;team&lt;/b&gt;" in body
    assert "Team room" in body and "About this room" in body
    for absent in (
        'data-menu="assign"',
        "Assign to me",
        "Mark as closed",
        "Add people",
        "Mark as spam",
        "for_everyone",
    ):
        assert absent not in body, absent
    assert state_of(room, cast.owner).unread is False, "opening reads it"


def test_a_1_1_room_is_named_after_the_other_person(cast, rooms, client):
    login(client, cast.teammate)
    body = client.get(room_url(rooms["direct"].id)).content.decode()
    assert '<h2 class="conv-subject">Olivia Owner</h2>' in body
    assert "Only you and Olivia Owner" in body


def test_a_turned_off_team_room_is_read_only_and_leaves_the_sidebar(cast, rooms, client):
    login(client, cast.owner)
    room = rooms["team"]
    _set_chat_room(cast.support, False)

    body = client.get(room_url(room.id)).content.decode()

    assert 'id="room-off"' in body and 'id="comment-box"' not in body
    assert "Turned off" in body
    assert 'data-room="team"' not in client.get(reverse("sidebar")).content.decode()


def test_the_sidebar_lists_rooms_direct_chats_and_coworkers_with_unread_dots(cast, rooms, client):
    login(client, cast.teammate)
    do_post_comment(rooms["direct"], author=cast.owner, body="ping")

    body = client.get(reverse("sidebar")).content.decode()

    general, team, direct = (room_url(rooms[kind].id) for kind in ("general", "team", "direct"))
    assert f'href="{general}"' in body and f'href="{team}"' in body and f'href="{direct}"' in body
    direct_link = body[body.index(f'href="{direct}"') :].split("</a>")[0]
    assert "Olivia Owner" in direct_link and "nav-dot" in direct_link
    general_link = body[body.index(f'href="{general}"') :].split("</a>")[0]
    assert "nav-dot" not in general_link
    for coworker in (cast.owner, cast.observer, cast.guest):
        assert reverse("open_direct_room", args=[cast.org.id, coworker.id]) in body
    assert reverse("open_direct_room", args=[cast.org.id, cast.teammate.id]) not in body
    assert "Xavier Outsider" not in body


def test_past_the_first_coworkers_the_sidebar_offers_everyone_on_demand(cast, client):
    for n in range(SIDEBAR_COWORKERS):
        MembershipFactory(organization=cast.org, user=UserFactory(name=f"Zed {n:02}"))
    login(client, cast.owner)

    sidebar = client.get(reverse("sidebar")).content.decode()
    assert sidebar.count('class="coworker"') == SIDEBAR_COWORKERS
    assert 'class="coworker-more-button"' in sidebar  # 27 coworkers, 24 shown
    everyone = client.get(reverse("room_coworkers", args=[cast.org.id])).content.decode()
    assert everyone.count("Chat with ") == SIDEBAR_COWORKERS + 3 and "Chat with Zed 23" in everyone
    assert "Chat with Olivia Owner" not in everyone
    assert client.get(reverse("room_coworkers", args=[cast.other_org.id])).status_code == 404


def test_the_sidebar_has_no_room_of_a_team_one_is_not_in(cast, rooms, client):
    login(client, cast.guest)
    body = client.get(reverse("sidebar")).content.decode()
    assert room_url(rooms["general"].id) in body
    assert room_url(rooms["team"].id) not in body and room_url(rooms["direct"].id) not in body


def test_the_rooms_mailbox_lists_only_rooms(cast, rooms, client):
    login(client, cast.owner)
    thread = receive(cast.personal_account, subject="Invoice").conversation

    body = client.get(reverse("mailbox", args=["rooms"])).content.decode()

    for room in rooms.values():
        assert f'id="row-{room.id}"' in body
    assert f'id="row-{thread.id}"' not in body


def test_opening_a_coworkers_avatar_creates_the_room_once_and_opens_it(cast, client):
    login(client, cast.owner)
    url = reverse("open_direct_room", args=[cast.org.id, cast.teammate.id])

    assert client.get(url).status_code == 405
    response = client.post(url)
    room = Conversation.objects.get(kind=ConversationKind.DIRECT)
    assert response.status_code == 302 and response["Location"] == room_url(room.id)

    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and room_url(room.id) in response["HX-Location"]
    assert Conversation.objects.filter(kind=ConversationKind.DIRECT).count() == 1


# --- Isolation ----------------------------------------------------------------------------------------


def test_rooms_of_another_organization_and_1_1s_of_other_people_are_404(cast, rooms, client):
    globex = do_create_organization_room(cast.other_org)
    login(client, cast.observer)

    assert client.get(room_url(globex.id)).status_code == 404
    assert client.get(room_url(rooms["direct"].id)).status_code == 404
    assert (
        client.post(reverse("conversation_action", args=[rooms["direct"].id, "comment"]), {"body": "hi"}).status_code
        == 404
    )
    assert not rooms["direct"].comments.exists()


def test_1_1_rooms_open_only_between_members_of_ones_organization(cast, client):
    login(client, cast.owner)
    stranger_org = OrganizationFactory(name="Hooli")
    MembershipFactory(organization=stranger_org, user=cast.teammate)

    for org, user in [
        (cast.org, cast.outsider),  # not a member of Acme
        (cast.other_org, cast.outsider),  # Globex is not the owner's
        (stranger_org, cast.teammate),
        (cast.org, cast.owner),  # oneself
    ]:
        assert client.post(reverse("open_direct_room", args=[org.id, user.id])).status_code == 404
    assert not Room.objects.exists()


def test_a_guest_can_chat_with_a_coworker_but_not_see_others_rooms(cast, rooms):
    room = do_open_direct_room(cast.org, acting_user=cast.guest, coworker=cast.teammate)
    assert _members(room) == {"guest@acme.test", "teammate@acme.test"}
    assert state_of(rooms["team"], cast.guest) is None


def test_organization_rooms_stay_separate_when_people_share_organizations(cast):
    second = OrganizationFactory(name="Acme Labs")
    MembershipFactory(organization=second, user=cast.owner, role=Role.OWNER)
    MembershipFactory(organization=second, user=cast.teammate)

    first = do_open_direct_room(cast.org, acting_user=cast.owner, coworker=cast.teammate)
    other = do_open_direct_room(second, acting_user=cast.owner, coworker=cast.teammate)

    assert first != other and other.organization == second
