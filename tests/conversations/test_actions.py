"""Delivery of new messages and the access that follows team and organization membership."""

from django.utils import timezone

from conversations.actions import do_assign_conversation
from conversations.counts import sidebar_counts
from conversations.models import AccessSource, Conversation, ConversationState, EventKind, Location, Status
from inboxes.actions import do_create_account, do_remove_member, do_set_team_members
from inboxes.models import Membership, NewMessages
from tests.factories import UserFactory, receive, state_of


def test_personal_account_mail_lands_in_owner_inbox_and_is_private(cast):
    conversation = receive(cast.personal_account, subject="Lunch?").conversation

    assert state_of(conversation, cast.owner).location == Location.INBOX
    assert state_of(conversation, cast.owner).unread
    assert state_of(conversation, cast.teammate) is None
    assert not conversation.is_shared and conversation.team is None


def test_team_inbox_account_mail_waits_in_team_inbox_without_touching_personal_inboxes(cast):
    conversation = receive(cast.support_account).conversation

    assert conversation.team == cast.support and conversation.in_team_inbox
    for user in (cast.owner, cast.teammate, cast.observer):
        state = state_of(conversation, user)
        assert state.location == Location.NONE and state.unread
    assert state_of(conversation, cast.guest) is None
    assert state_of(conversation, cast.outsider) is None


def test_inbox_mode_delivers_to_each_user_or_auto_archives(cast):
    account = do_create_account(
        cast.org,
        owner=cast.owner,
        address="info@acme.test",
        is_shared=True,
        shared_with=[(cast.teammate, NewMessages.INBOX), (cast.observer, NewMessages.AUTO_ARCHIVE)],
    )
    conversation = receive(account).conversation

    assert state_of(conversation, cast.teammate).location == Location.INBOX
    assert state_of(conversation, cast.observer).location == Location.NONE
    assert state_of(conversation, cast.owner).location == Location.INBOX
    assert conversation.is_shared and not conversation.in_team_inbox


def test_reply_threads_into_the_same_conversation_by_in_reply_to(cast):
    first = receive(cast.personal_account, subject="Quote", rfc_message_id="<a@x.test>")
    second = receive(cast.personal_account, subject="Re: Quote", rfc_message_id="<b@x.test>", in_reply_to="<a@x.test>")
    third = receive(
        cast.personal_account, subject="Re: Quote", rfc_message_id="<c@x.test>", references=["<a@x.test>", "<b@x.test>"]
    )

    assert first.conversation_id == second.conversation_id == third.conversation_id
    first.conversation.refresh_from_db()
    assert first.conversation.message_count == 3


def test_threading_never_crosses_organizations(cast):
    receive(cast.outsider_account, rfc_message_id="<shared@x.test>")
    reply = receive(cast.personal_account, in_reply_to="<shared@x.test>")

    assert reply.conversation.organization == cast.org
    assert reply.conversation.message_count == 1


def test_new_message_reopens_a_closed_conversation_and_brings_assignees_back(cast):
    conversation = receive(cast.support_account, rfc_message_id="<t1@x.test>").conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    conversation.refresh_from_db()
    conversation.status = Status.CLOSED
    conversation.save()
    ConversationState.objects.filter(conversation=conversation, user=cast.teammate).update(
        location=Location.ARCHIVED, unread=False
    )

    receive(cast.support_account, in_reply_to="<t1@x.test>")

    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN
    assert not conversation.in_team_inbox, "still assigned, so not back in the team inbox"
    teammate = state_of(conversation, cast.teammate)
    assert teammate.location == Location.INBOX and teammate.unread
    assert state_of(conversation, cast.observer).location == Location.NONE
    assert conversation.events.filter(kind=EventKind.REOPENED).exists()


def test_assigning_takes_the_conversation_out_of_the_team_inbox_and_into_the_assignee_inbox(cast):
    conversation = receive(cast.support_account).conversation

    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)

    conversation.refresh_from_db()
    assert not conversation.in_team_inbox
    state = state_of(conversation, cast.teammate)
    assert state.location == Location.INBOX and state.watching
    event = conversation.events.get(kind=EventKind.ASSIGNED)
    assert event.text == "Olivia Owner assigned Tom Teammate"


def test_new_team_member_sees_existing_team_conversations_and_loses_them_on_leaving(cast):
    conversation = receive(cast.support_account).conversation
    newcomer = UserFactory()
    Membership.objects.create(organization=cast.org, user=newcomer)
    members = list(cast.support.memberships.values_list("user_id", "role"))
    active = [uid for uid, role in members if role == "active"] + [newcomer.id]
    observers = [uid for uid, role in members if role == "observer"]

    do_set_team_members(cast.support, active=active, observers=observers)
    assert state_of(conversation, newcomer).location == Location.NONE

    do_set_team_members(cast.support, active=active[:-1], observers=observers)
    assert state_of(conversation, newcomer) is None


def test_leaving_a_team_keeps_access_gained_another_way(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    ConversationState.objects.filter(conversation=conversation, user=cast.teammate).update(access_source="assignment")

    do_set_team_members(cast.support, active=[cast.owner.id], observers=[cast.observer.id])

    assert state_of(conversation, cast.teammate) is not None


def test_removing_a_member_cuts_all_their_access_in_that_organization(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    acting = Membership.objects.get(organization=cast.org, user=cast.owner)

    do_remove_member(Membership.objects.get(organization=cast.org, user=cast.teammate), acting=acting)

    assert state_of(conversation, cast.teammate) is None
    assert not conversation.assignments.filter(user=cast.teammate).exists()
    assert not cast.support.memberships.filter(user=cast.teammate).exists()
    conversation.refresh_from_db()
    assert not conversation.assigned and conversation.in_team_inbox, "nobody is left: back to the team inbox"
    assert sidebar_counts(cast.owner)["teams"] == {str(cast.support.id): 1}


def test_states_copy_their_conversations_status_and_team_inbox_whatever_writes_them(cast):
    """The database keeps ConversationState.conversation_open and .team_inbox (migration 0012's
    triggers): a new state, a bulk update of conversations, and a full save of a state read
    before the conversation changed."""
    conversation = receive(cast.support_account).conversation
    stale = state_of(conversation, cast.teammate)
    assert (stale.conversation_open, stale.team_inbox_id) == (True, cast.support.id)

    Conversation.objects.filter(id=conversation.id).update(status=Status.CLOSED, in_team_inbox=False)
    stale.starred = True
    stale.save()  # writes every column, including the copies it read while the conversation was open

    assert set(conversation.states.values_list("conversation_open", "team_inbox")) == {(False, None)}
    newcomer = UserFactory()
    ConversationState.objects.create(
        organization=cast.org,
        conversation=conversation,
        user=newcomer,
        access_source=AccessSource.ADDED,
        conversation_open=True,
        team_inbox=cast.support,
    )
    joined = state_of(conversation, newcomer)
    assert (joined.conversation_open, joined.team_inbox_id) == (False, None), "taken from the conversation"

    Conversation.objects.filter(id=conversation.id).update(status=Status.OPEN, in_team_inbox=True)
    assert set(conversation.states.values_list("conversation_open", "team_inbox")) == {(True, cast.support.id)}


def test_later_message_updates_list_summary(cast):
    first = receive(
        cast.personal_account,
        subject="Hi",
        body="first",
        rfc_message_id="<s1@x.test>",
        sent_at=timezone.now() - timezone.timedelta(hours=1),
    )
    receive(
        cast.personal_account,
        subject="Re: Hi",
        body="second   reply\n text",
        sender="other@x.test",
        from_name="Other",
        in_reply_to="<s1@x.test>",
    )
    conversation = first.conversation
    conversation.refresh_from_db()

    assert conversation.preview == "second reply text"
    assert conversation.participants[0]["address"] == "other@x.test"
    assert state_of(conversation, cast.owner).last_activity_at == conversation.last_activity_at


def test_a_reply_to_a_full_conversation_starts_a_new_one(cast):
    first = receive(cast.personal_account, subject="Long thread", rfc_message_id="<full@x.test>")
    Conversation.objects.filter(pk=first.conversation_id).update(message_count=400)

    reply = receive(cast.personal_account, subject="Re: Long thread", in_reply_to="<full@x.test>")

    assert reply.conversation_id != first.conversation_id
    assert reply.conversation.message_count == 1
