"""One test per row of docs/state-machine.md: what each triage action does to the actor, the
assignees, everyone else with access and the team inbox, which events it writes, and that the
cached sidebar counts are right afterwards for everyone it touched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone

from conversations import tasks
from conversations.actions import (
    ActionRefused,
    ArchiveNeedsChoice,
    do_archive,
    do_assign_conversation,
    do_close,
    do_mark_not_spam,
    do_mark_spam,
    do_move_to_team,
    do_reopen,
    do_set_pinned,
    do_set_starred,
    do_set_unread,
    do_snooze,
    do_trash,
    do_unassign,
    do_unsnooze,
    do_wake_due_snoozes,
)
from conversations.counts import compute_counts, sidebar_counts
from conversations.mailboxes import personal_mailbox
from conversations.models import (
    AccessSource,
    Assignment,
    Conversation,
    ConversationEvent,
    ConversationKind,
    ConversationLabel,
    ConversationState,
    EventKind,
    Location,
    Status,
)
from inboxes.actions import do_create_account, do_create_team, do_set_personal_options, do_update_team
from inboxes.models import ArchiveAssigned, Membership, NewMessages, Team, TeamRole, User
from tests.factories import LabelFactory, MembershipFactory, UserFactory, add_to_team, receive, state_of

# --- Helpers ---------------------------------------------------------------------------------------


def _fresh(conversation: Conversation) -> Conversation:
    conversation.refresh_from_db()
    return conversation


def _where(conversation: Conversation, user: User) -> str | None:
    """The user's placement, or None without access."""
    state = state_of(conversation, user)
    return state.location if state else None


def _assignees(conversation: Conversation) -> set:
    return set(conversation.assignments.values_list("user_id", flat=True))


def _mark() -> int:
    """Events written after this point are the ones an action wrote."""
    return ConversationEvent.objects.aggregate(last=Max("id"))["last"] or 0


def _events_since(mark: int, conversation: Conversation) -> list[tuple[str, object]]:
    """(kind, private_to id) of the events written after `mark`; None means everyone sees it."""
    return list(
        ConversationEvent.objects.filter(conversation=conversation, id__gt=mark)
        .order_by("id")
        .values_list("kind", "private_to_id")
    )


def _prime(*users: User) -> None:
    """Fill the count cache, so a test fails if an action forgets to invalidate it."""
    for user in users:
        sidebar_counts(user)


def _team_count(user: User, team: Team) -> int:
    return sidebar_counts(user)["teams"].get(str(team.id), 0)


def _assert_counts_fresh(*users: User) -> None:
    for user in users:
        assert sidebar_counts(user) == compute_counts(user), f"stale cached counts for {user}"
    _assert_assigned_flags_match_assignments()


def _assert_assigned_flags_match_assignments() -> None:
    """The denormalised copies hold after any action: ConversationState.assigned is "an
    Assignment row exists" for its user, Conversation.assigned for anybody, and a state's
    conversation_open and team_inbox follow its conversation."""
    assignment = Assignment.objects.filter(conversation=OuterRef("conversation"), user=OuterRef("user"))
    wrong = ConversationState.objects.annotate(has=Exists(assignment)).exclude(assigned=F("has"))
    assert not wrong.exists(), list(wrong.values("conversation__subject", "user__email", "assigned"))
    anybody = Assignment.objects.filter(conversation=OuterRef("id"))
    wrong_conversations = Conversation.objects.annotate(has=Exists(anybody)).exclude(assigned=F("has"))
    assert not wrong_conversations.exists(), list(wrong_conversations.values("subject", "assigned"))
    _assert_state_copies_follow_conversations()


def _assert_state_copies_follow_conversations() -> None:
    for state in ConversationState.objects.select_related("conversation"):
        conversation = state.conversation
        expected = (conversation.status == Status.OPEN, conversation.team_id if conversation.in_team_inbox else None)
        assert (state.conversation_open, state.team_inbox_id) == expected, (conversation.subject, state.user_id)


def _everyone(cast) -> tuple[User, ...]:
    return (cast.owner, cast.teammate, cast.observer, cast.guest)


def _member(cast, name: str, *teams: Team) -> User:
    user = UserFactory(name=name)
    MembershipFactory(organization=cast.org, user=user)
    for team in teams:
        add_to_team(team, user)
    return user


def _inbox_account(cast, **shared: str):
    """A shared account delivering to people's Inboxes (no team inbox)."""
    users = {"teammate": cast.teammate, "observer": cast.observer, "guest": cast.guest}
    return do_create_account(
        cast.org,
        owner=cast.owner,
        address="info@acme.test",
        is_shared=True,
        shared_with=[(users[name], mode) for name, mode in shared.items()],
    )


def _in_everyones_inbox_and_team_inbox(cast) -> Conversation:
    """Owner, teammate and observer have it in their Inbox, and it waits in Support's inbox."""
    account = _inbox_account(cast, teammate=NewMessages.INBOX, observer=NewMessages.INBOX)
    conversation = receive(account).conversation
    do_move_to_team(conversation, cast.support, acting_user=cast.owner)
    conversation = _fresh(conversation)
    assert conversation.in_team_inbox
    assert {_where(conversation, u) for u in (cast.owner, cast.teammate, cast.observer)} == {Location.INBOX}
    return conversation


def _remove_from_inbox_on_close(cast, user: User) -> None:
    do_set_personal_options(Membership.objects.get(organization=cast.org, user=user), remove_from_inbox_on_close=True)


def _later(**kwargs: float):
    return timezone.now() + timedelta(**kwargs)


# --- Rows 1-4: new messages --------------------------------------------------------------------------


def test_row_01_new_message_on_personal_account_lands_in_owner_inbox_unread(cast):
    _prime(*_everyone(cast))

    conversation = receive(cast.personal_account).conversation

    state = state_of(conversation, cast.owner)
    assert state.location == Location.INBOX and state.unread
    assert list(conversation.states.values_list("user_id", flat=True)) == [cast.owner.id], "nobody else has access"
    assert conversation.team is None and not conversation.in_team_inbox and not conversation.is_shared
    assert _events_since(0, conversation) == [], "the message itself is the timeline entry"
    assert sidebar_counts(cast.owner)["inbox"] == 1
    assert sidebar_counts(cast.owner)["badge"] == 1
    assert sidebar_counts(cast.teammate)["badge"] == 0
    _assert_counts_fresh(*_everyone(cast))


def test_row_02_new_message_on_team_inbox_account_gives_every_member_access_and_enters_team_inbox(cast):
    _prime(*_everyone(cast))

    conversation = _fresh(receive(cast.support_account).conversation)

    for user in (cast.owner, cast.teammate, cast.observer):
        state = state_of(conversation, user)
        assert (state.location, state.unread) == (Location.NONE, True), user
    assert _where(conversation, cast.guest) is None
    assert conversation.team == cast.support and conversation.in_team_inbox
    assert _events_since(0, conversation) == []
    for active in (cast.owner, cast.teammate):
        counts = sidebar_counts(active)
        assert (counts["inbox"], _team_count(active, cast.support), counts["team-inboxes"], counts["badge"]) == (
            0,
            1,
            1,
            1,
        )
    # An observer sees the team inbox (and its count) but it is not part of their badge.
    observer = sidebar_counts(cast.observer)
    assert (_team_count(cast.observer, cast.support), observer["team-inboxes"], observer["badge"]) == (1, 0, 0)
    _assert_counts_fresh(*_everyone(cast))


def test_row_02_account_owner_outside_the_team_gets_access_but_nothing_in_their_inbox(cast):
    account = do_create_account(cast.org, owner=cast.guest, address="sales@acme.test", team=cast.support)
    _prime(cast.guest)

    conversation = _fresh(receive(account).conversation)

    assert _where(conversation, cast.guest) == Location.NONE, "team-inbox delivery changes nobody's Inbox"
    assert conversation.in_team_inbox
    assert sidebar_counts(cast.guest)["inbox"] == 0
    _assert_counts_fresh(cast.guest)


def test_row_03_new_message_on_inbox_delivery_account_goes_to_each_inbox_or_auto_archives(cast):
    account = _inbox_account(cast, teammate=NewMessages.INBOX, observer=NewMessages.AUTO_ARCHIVE)
    _prime(*_everyone(cast))

    conversation = _fresh(receive(account).conversation)

    assert _where(conversation, cast.teammate) == Location.INBOX
    assert _where(conversation, cast.observer) == Location.NONE
    assert _where(conversation, cast.owner) == Location.INBOX, "the account owner"
    assert _where(conversation, cast.guest) is None
    assert all(conversation.states.values_list("unread", flat=True))
    assert conversation.is_shared and conversation.team is None and not conversation.in_team_inbox
    assert _events_since(0, conversation) == []
    assert sidebar_counts(cast.owner)["inbox"] == sidebar_counts(cast.teammate)["inbox"] == 1
    assert sidebar_counts(cast.observer)["badge"] == 0
    _assert_counts_fresh(*_everyone(cast))


def test_row_04_new_message_reopens_and_brings_assignees_watchers_and_discard_snoozes_back(cast):
    dana = _member(cast, "Dana Discard", cast.support)
    eli = _member(cast, "Eli Keepsnooze", cast.support)
    conversation = receive(cast.support_account, rfc_message_id="<r4@x.test>").conversation
    do_assign_conversation(conversation, [cast.teammate, cast.guest], acting_user=cast.owner)
    do_unassign(conversation, cast.guest, acting_user=cast.owner)  # the guest keeps watching
    do_archive(conversation, acting_user=cast.guest)
    do_archive(conversation, acting_user=cast.teammate, close=False)
    do_trash(conversation, acting_user=cast.observer)
    do_mark_spam(conversation, acting_user=cast.owner)
    do_snooze(conversation, acting_user=dana, until=_later(hours=2), discard_if_reply=True)
    do_snooze(conversation, acting_user=eli, until=_later(hours=2))
    for user in (cast.teammate, cast.guest, cast.observer, cast.owner, dana, eli):
        do_set_unread(conversation, acting_user=user, unread=False)
    do_close(_fresh(conversation), acting_user=cast.teammate)
    _prime(*_everyone(cast), dana, eli)
    mark = _mark()

    receive(cast.support_account, in_reply_to="<r4@x.test>")

    conversation = _fresh(conversation)
    assert conversation.status == Status.OPEN
    assert all(conversation.states.values_list("unread", flat=True)), "everyone unread"
    assert _where(conversation, cast.teammate) == Location.INBOX, "assignee back to Inbox"
    assert _where(conversation, cast.guest) == Location.INBOX, "watcher back to Inbox"
    assert _where(conversation, cast.observer) == Location.TRASHED, "Trash stays put"
    assert _where(conversation, cast.owner) == Location.SPAM, "Spam stays put"
    assert (_where(conversation, dana), state_of(conversation, dana).snoozed_until) == (Location.INBOX, None)
    assert _where(conversation, eli) == Location.SNOOZED and state_of(conversation, eli).snoozed_until
    assert _assignees(conversation) == {cast.teammate.id}
    assert not conversation.in_team_inbox, "still assigned"
    event = conversation.events.get(id__gt=mark)
    assert (event.kind, event.private_to_id, event.actor_id) == (EventKind.REOPENED, None, None)
    assert event.text == "Missive reopened the conversation by a new message"
    for user in (cast.teammate, cast.guest, dana):
        assert sidebar_counts(user)["inbox"] == 1, user
    assert sidebar_counts(eli)["inbox"] == 0
    assert sidebar_counts(cast.owner)["spam"] == 1
    _assert_counts_fresh(*_everyone(cast), dana, eli)


def test_row_04_new_message_brings_an_unassigned_conversation_back_to_the_team_inbox(cast):
    conversation = receive(cast.support_account, rfc_message_id="<r4b@x.test>").conversation
    do_archive(conversation, acting_user=cast.teammate, from_team_inbox=True)
    assert not _fresh(conversation).in_team_inbox
    _prime(*_everyone(cast))

    receive(cast.support_account, in_reply_to="<r4b@x.test>")

    conversation = _fresh(conversation)
    assert conversation.status == Status.OPEN and conversation.in_team_inbox
    assert _where(conversation, cast.owner) == Location.NONE, "not a watcher: the team inbox is where it shows"
    assert _where(conversation, cast.teammate) == Location.ARCHIVED
    assert _team_count(cast.owner, cast.support) == 1
    assert _team_count(cast.teammate, cast.support) == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_04_new_message_with_team_option_returns_assigned_conversation_to_team_inbox(cast):
    support = cast.support
    do_update_team(
        support,
        name=support.name,
        emoji=support.emoji,
        color=support.color,
        has_inbox=True,
        has_chat_room=False,
        show_team_space=True,
        mention_adds_observers=False,
        assign_on_reply=True,
        reply_to_assigned_goes_to_team_inbox=True,
        inactivity_period=None,
    )
    conversation = receive(cast.support_account, rfc_message_id="<r4c@x.test>").conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    do_archive(_fresh(conversation), acting_user=cast.teammate, close=False)
    _prime(*_everyone(cast))

    receive(cast.support_account, in_reply_to="<r4c@x.test>")

    conversation = _fresh(conversation)
    assert conversation.in_team_inbox
    assert _assignees(conversation) == {cast.teammate.id}
    assert _where(conversation, cast.teammate) == Location.ARCHIVED, "assignees stay put (though watching)"
    assert state_of(conversation, cast.teammate).unread
    assert _team_count(cast.owner, cast.support) == 1
    assert sidebar_counts(cast.teammate)["inbox"] == 0
    _assert_counts_fresh(*_everyone(cast))


def test_row_04_new_message_on_inbox_delivery_account_brings_inbox_users_back(cast):
    account = _inbox_account(cast, teammate=NewMessages.INBOX, observer=NewMessages.AUTO_ARCHIVE)
    conversation = receive(account, rfc_message_id="<r4d@x.test>").conversation
    do_archive(conversation, acting_user=cast.teammate)
    do_archive(conversation, acting_user=cast.owner)
    _prime(*_everyone(cast))

    receive(account, in_reply_to="<r4d@x.test>")

    assert _where(conversation, cast.teammate) == Location.INBOX
    assert _where(conversation, cast.owner) == Location.INBOX
    assert _where(conversation, cast.observer) == Location.NONE, "auto-archive"
    assert sidebar_counts(cast.teammate)["inbox"] == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_04_new_message_cancels_a_snooze_for_everyone_that_asked_for_it(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    first = conversation.messages.get()
    first.rfc_message_id = "<r4e@x.test>"
    first.save()
    do_snooze(conversation, acting_user=cast.owner, until=_later(hours=2), for_everyone=True, discard_if_reply=True)
    _prime(*_everyone(cast))

    receive(first.account, in_reply_to="<r4e@x.test>")

    conversation = _fresh(conversation)
    assert conversation.snoozed_until is None and conversation.in_team_inbox
    for user in (cast.owner, cast.teammate, cast.observer):
        state = state_of(conversation, user)
        assert (state.location, state.snoozed_until) == (Location.INBOX, None), user
    assert _team_count(cast.teammate, cast.support) == 1
    assert sidebar_counts(cast.teammate)["inbox"] == 1
    _assert_counts_fresh(*_everyone(cast))


# --- Rows 5-11: archive, close, reopen -----------------------------------------------------------


def test_row_05_archive_from_inbox_by_non_assignee_archives_for_me_only(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    _prime(*_everyone(cast))
    mark = _mark()

    do_archive(conversation, acting_user=cast.teammate)

    conversation = _fresh(conversation)
    assert _where(conversation, cast.teammate) == Location.ARCHIVED
    assert _where(conversation, cast.owner) == _where(conversation, cast.observer) == Location.INBOX
    assert conversation.status == Status.OPEN and conversation.in_team_inbox
    assert _events_since(mark, conversation) == [(EventKind.ARCHIVED, cast.teammate.id)]
    assert sidebar_counts(cast.teammate)["inbox"] == 0
    assert sidebar_counts(cast.owner)["inbox"] == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_06_archive_by_assignee_with_ask_preference_is_refused_with_the_prompt(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    assert cast.teammate.archive_assigned == ArchiveAssigned.ASK
    _prime(*_everyone(cast))
    mark = _mark()

    with pytest.raises(ArchiveNeedsChoice, match="archive only, or archive and close"):
        do_archive(_fresh(conversation), acting_user=cast.teammate)

    conversation = _fresh(conversation)
    assert _where(conversation, cast.teammate) == Location.INBOX
    assert conversation.status == Status.OPEN
    assert _events_since(mark, conversation) == []
    assert sidebar_counts(cast.teammate)["inbox"] == 1


def test_row_07_archive_only_by_assignee_keeps_it_open_and_in_tasks(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    do_assign_conversation(conversation, [cast.teammate, cast.observer], acting_user=cast.owner)
    cast.observer.archive_assigned = ArchiveAssigned.ARCHIVE
    cast.observer.save()
    _prime(*_everyone(cast))
    mark = _mark()

    do_archive(_fresh(conversation), acting_user=cast.teammate, close=False)
    do_archive(_fresh(conversation), acting_user=cast.observer)  # the preference answers the prompt

    conversation = _fresh(conversation)
    assert _where(conversation, cast.teammate) == _where(conversation, cast.observer) == Location.ARCHIVED
    assert _where(conversation, cast.owner) == Location.INBOX
    assert conversation.status == Status.OPEN
    assert _assignees(conversation) == {cast.teammate.id, cast.observer.id}
    assert personal_mailbox("assigned").states(cast.teammate).filter(conversation=conversation).exists()
    assert not conversation.in_team_inbox
    assert _events_since(mark, conversation) == [
        (EventKind.ARCHIVED, cast.teammate.id),
        (EventKind.ARCHIVED, cast.observer.id),
    ]
    assert sidebar_counts(cast.teammate)["inbox"] == 0
    _assert_counts_fresh(*_everyone(cast))


def test_row_08_archive_and_close_by_assignee_archives_then_closes(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    _remove_from_inbox_on_close(cast, cast.observer)
    _prime(*_everyone(cast))
    mark = _mark()

    do_archive(_fresh(conversation), acting_user=cast.teammate, close=True)

    conversation = _fresh(conversation)
    assert _where(conversation, cast.teammate) == Location.ARCHIVED
    assert conversation.status == Status.CLOSED
    assert _assignees(conversation) == {cast.teammate.id}, "kept"
    assert _where(conversation, cast.observer) == Location.ARCHIVED, "as Close: Remove from my Inbox"
    assert _where(conversation, cast.owner) == Location.INBOX, "as Close: Keep in my Inbox"
    assert not conversation.in_team_inbox
    assert not personal_mailbox("assigned").states(cast.teammate).filter(conversation=conversation).exists()
    assert _events_since(mark, conversation) == [(EventKind.ARCHIVED, cast.teammate.id), (EventKind.CLOSED, None)]
    assert sidebar_counts(cast.observer)["inbox"] == 0
    assert sidebar_counts(cast.owner)["inbox"] == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_09_archive_from_team_inbox_closes_for_everyone(cast):
    conversation = receive(cast.support_account).conversation
    _remove_from_inbox_on_close(cast, cast.observer)
    _prime(*_everyone(cast))
    mark = _mark()

    do_archive(conversation, acting_user=cast.teammate, from_team_inbox=True)

    conversation = _fresh(conversation)
    assert _where(conversation, cast.teammate) == Location.ARCHIVED
    assert _where(conversation, cast.owner) == _where(conversation, cast.observer) == Location.NONE
    assert conversation.status == Status.CLOSED and not conversation.in_team_inbox
    assert _events_since(mark, conversation) == [(EventKind.ARCHIVED_FOR_TEAM, None), (EventKind.CLOSED, None)]
    for user in (cast.owner, cast.teammate, cast.observer):
        assert _team_count(user, cast.support) == 0, user
        assert sidebar_counts(user)["badge"] == 0, user
    _assert_counts_fresh(*_everyone(cast))


def test_row_10_close_archives_for_the_closer_and_removers_not_watching_and_leaves_team_inbox(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    do_unassign(conversation, cast.teammate, acting_user=cast.owner)  # still watching
    conversation = _fresh(conversation)
    assert conversation.in_team_inbox and state_of(conversation, cast.teammate).watching
    _remove_from_inbox_on_close(cast, cast.teammate)
    _remove_from_inbox_on_close(cast, cast.observer)
    _prime(*_everyone(cast))
    mark = _mark()

    do_close(conversation, acting_user=cast.owner)

    conversation = _fresh(conversation)
    assert conversation.status == Status.CLOSED and not conversation.in_team_inbox
    assert _where(conversation, cast.owner) == Location.ARCHIVED, "the closer"
    assert _where(conversation, cast.observer) == Location.ARCHIVED, "Remove from my Inbox, not watching"
    assert _where(conversation, cast.teammate) == Location.INBOX, "Remove from my Inbox, but watching"
    assert _events_since(mark, conversation) == [(EventKind.CLOSED, None)]
    assert sidebar_counts(cast.owner)["inbox"] == sidebar_counts(cast.observer)["inbox"] == 0
    assert sidebar_counts(cast.teammate)["inbox"] == 1
    for user in (cast.owner, cast.teammate, cast.observer):
        assert _team_count(user, cast.support) == 0, user
    _assert_counts_fresh(*_everyone(cast))


def test_row_10_close_keeps_assignees_and_others_keep_it_by_default(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    do_assign_conversation(conversation, [cast.teammate, cast.guest], acting_user=cast.owner)
    _prime(*_everyone(cast))

    do_close(_fresh(conversation), acting_user=cast.teammate)

    conversation = _fresh(conversation)
    assert _assignees(conversation) == {cast.teammate.id, cast.guest.id}
    assert _where(conversation, cast.teammate) == Location.ARCHIVED
    assert _where(conversation, cast.guest) == _where(conversation, cast.observer) == Location.INBOX
    assert not personal_mailbox("assigned").states(cast.guest).filter(conversation=conversation).exists()
    assert sidebar_counts(cast.teammate)["inbox"] == 0
    assert sidebar_counts(cast.guest)["inbox"] == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_11_reopen_puts_it_back_in_each_assignee_inbox_unread(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.teammate, cast.observer], acting_user=cast.owner)
    do_set_unread(conversation, acting_user=cast.teammate, unread=False)
    do_archive(_fresh(conversation), acting_user=cast.observer, close=False)
    do_close(_fresh(conversation), acting_user=cast.owner)
    assert _where(conversation, cast.teammate) == Location.INBOX, "kept by the default option"
    _prime(*_everyone(cast))
    mark = _mark()

    do_reopen(_fresh(conversation), acting_user=cast.owner)

    conversation = _fresh(conversation)
    assert conversation.status == Status.OPEN
    for assignee in (cast.teammate, cast.observer):
        state = state_of(conversation, assignee)
        assert (state.location, state.unread) == (Location.INBOX, True), assignee
    assert _where(conversation, cast.owner) == Location.NONE, "unchanged"
    assert not conversation.in_team_inbox, "assigned"
    assert _events_since(mark, conversation) == [(EventKind.REOPENED, None)]
    assert sidebar_counts(cast.teammate)["inbox"] == sidebar_counts(cast.observer)["inbox"] == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_11_reopen_returns_an_unassigned_conversation_to_the_team_inbox(cast):
    conversation = receive(cast.support_account).conversation
    do_close(conversation, acting_user=cast.owner)
    _prime(*_everyone(cast))

    do_reopen(_fresh(conversation), acting_user=cast.teammate)

    assert _fresh(conversation).in_team_inbox
    assert _team_count(cast.owner, cast.support) == sidebar_counts(cast.owner)["team-inboxes"] == 1
    _assert_counts_fresh(*_everyone(cast))


# --- Rows 12-15: assignment and teams -----------------------------------------------------------


def test_row_12_assign_puts_it_at_the_top_of_each_new_assignee_inbox_and_out_of_team_inbox(cast):
    older = receive(cast.support_account, sent_at=timezone.now() - timedelta(hours=3)).conversation
    newer = receive(cast.support_account).conversation
    do_assign_conversation(newer, [cast.teammate], acting_user=cast.owner)
    _prime(*_everyone(cast))
    mark = _mark()

    do_assign_conversation(older, [cast.teammate, cast.guest], acting_user=cast.owner)

    older = _fresh(older)
    for assignee in (cast.teammate, cast.guest):
        state = state_of(older, assignee)
        assert (state.location, state.watching) == (Location.INBOX, True), assignee
        top = personal_mailbox("inbox").states(assignee).order_by("-last_activity_at").first()
        assert top.conversation_id == older.id, "at the top of the Inbox"
    guest = state_of(older, cast.guest)
    assert (guest.access_source, guest.unread) == (AccessSource.ASSIGNMENT, True), "gains access"
    assert _where(older, cast.owner) == _where(older, cast.observer) == Location.NONE, "unchanged"
    assert not older.in_team_inbox
    assert _events_since(mark, older) == [(EventKind.ASSIGNED, None), (EventKind.ASSIGNED, None)]
    assert sidebar_counts(cast.guest)["inbox"] == 1
    assert sidebar_counts(cast.teammate)["inbox"] == 2
    for member in (cast.owner, cast.teammate, cast.observer):
        assert _team_count(member, cast.support) == 0, member
    assert sidebar_counts(cast.owner)["badge"] == 0
    _assert_counts_fresh(*_everyone(cast))


def test_row_13_assign_to_me_only_unassigns_everyone_else_who_keeps_their_copy(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.teammate, cast.observer], acting_user=cast.teammate)
    _prime(*_everyone(cast))
    mark = _mark()

    do_assign_conversation(_fresh(conversation), [cast.owner], acting_user=cast.owner, replace=True)

    conversation = _fresh(conversation)
    assert _assignees(conversation) == {cast.owner.id}
    assert _where(conversation, cast.owner) == Location.INBOX
    assert _where(conversation, cast.teammate) == _where(conversation, cast.observer) == Location.INBOX
    assert not conversation.in_team_inbox
    assert sorted(_events_since(mark, conversation)) == sorted(
        [(EventKind.UNASSIGNED, None), (EventKind.UNASSIGNED, None), (EventKind.ASSIGNED, None)]
    )
    assert sidebar_counts(cast.owner)["inbox"] == 1
    assert sidebar_counts(cast.teammate)["inbox"] == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_14_unassign_keeps_the_person_copy_and_returns_to_team_inbox_when_nobody_is_left(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.teammate, cast.observer], acting_user=cast.owner)
    do_archive(_fresh(conversation), acting_user=cast.observer, close=False)
    _prime(*_everyone(cast))
    mark = _mark()

    do_unassign(_fresh(conversation), cast.observer, acting_user=cast.owner)
    assert not _fresh(conversation).in_team_inbox, "someone is still assigned"
    do_unassign(_fresh(conversation), cast.teammate, acting_user=cast.owner)

    conversation = _fresh(conversation)
    assert _assignees(conversation) == set()
    assert _where(conversation, cast.teammate) == Location.INBOX
    assert _where(conversation, cast.observer) == Location.ARCHIVED
    assert conversation.in_team_inbox
    assert _events_since(mark, conversation) == [(EventKind.UNASSIGNED, None), (EventKind.UNASSIGNED, None)]
    owner = sidebar_counts(cast.owner)
    assert (_team_count(cast.owner, cast.support), owner["team-inboxes"], owner["badge"]) == (1, 1, 1)
    # In both the teammate's Inbox and the team inbox: the badge counts it once.
    teammate = sidebar_counts(cast.teammate)
    assert (teammate["inbox"], teammate["team-inboxes"], teammate["badge"]) == (1, 1, 1)
    _assert_counts_fresh(*_everyone(cast))


def test_row_14_unassigning_a_closed_conversation_leaves_it_out_of_the_team_inbox(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    do_close(_fresh(conversation), acting_user=cast.owner)

    do_unassign(_fresh(conversation), cast.teammate, acting_user=cast.owner)

    assert not _fresh(conversation).in_team_inbox


def test_row_15_move_to_team_gives_new_members_access_and_enters_their_team_inbox(cast):
    sales = do_create_team(cast.org, name="Sales")
    sam = _member(cast, "Sam Sales", sales)
    add_to_team(sales, cast.guest, TeamRole.OBSERVER)
    conversation = receive(cast.support_account).conversation
    _prime(*_everyone(cast), sam)
    mark = _mark()

    do_move_to_team(conversation, sales, acting_user=cast.owner)

    conversation = _fresh(conversation)
    assert conversation.team == sales and conversation.in_team_inbox
    for newcomer in (sam, cast.guest):
        state = state_of(conversation, newcomer)
        assert (state.location, state.access_source) == (Location.NONE, AccessSource.TEAM), newcomer
    assert _where(conversation, cast.owner) == _where(conversation, cast.teammate) == Location.NONE, "unchanged"
    assert _events_since(mark, conversation) == [(EventKind.MOVED_TO_TEAM, None)]
    for member in (cast.owner, cast.teammate):
        assert _team_count(member, cast.support) == 0, member
        assert sidebar_counts(member)["team-inboxes"] == 0, member
    _assert_counts_fresh(*_everyone(cast), sam)


def test_row_15_move_to_team_keeps_an_assigned_or_closed_conversation_out_of_the_team_inbox(cast):
    sales = do_create_team(cast.org, name="Sales")
    assigned = receive(cast.support_account).conversation
    do_assign_conversation(assigned, [cast.teammate], acting_user=cast.owner)
    closed = receive(cast.support_account).conversation
    do_close(closed, acting_user=cast.owner)

    do_move_to_team(_fresh(assigned), sales, acting_user=cast.owner)
    do_move_to_team(_fresh(closed), sales, acting_user=cast.owner)

    assert _fresh(assigned).team == _fresh(closed).team == sales
    assert not assigned.in_team_inbox and not closed.in_team_inbox


# --- Rows 16-19: snoozes ---------------------------------------------------------------------------


def test_row_16_snooze_for_me_hides_it_from_my_inbox_and_remembers_leave_in_inbox(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    until = _later(hours=3)
    _prime(*_everyone(cast))
    mark = _mark()

    do_snooze(conversation, acting_user=cast.teammate, until=until)
    do_snooze(_fresh(conversation), acting_user=cast.observer, until=until, leave_in_inbox=True)

    conversation = _fresh(conversation)
    teammate = state_of(conversation, cast.teammate)
    assert (teammate.location, teammate.snoozed_until) == (Location.SNOOZED, until)
    observer = state_of(conversation, cast.observer)
    assert (observer.location, observer.snoozed_until) == (Location.INBOX, until), "Leave in Inbox"
    cast.observer.refresh_from_db()
    cast.teammate.refresh_from_db()
    assert cast.observer.snooze_leave_in_inbox and not cast.teammate.snooze_leave_in_inbox, "remembered"
    owner = state_of(conversation, cast.owner)
    assert (owner.location, owner.snoozed_until) == (Location.INBOX, None), "unchanged"
    assert conversation.snoozed_until is None and conversation.in_team_inbox, "team inbox unchanged"
    assert _events_since(mark, conversation) == [
        (EventKind.SNOOZED, cast.teammate.id),
        (EventKind.SNOOZED, cast.observer.id),
    ]
    assert sidebar_counts(cast.teammate)["inbox"] == 0
    assert sidebar_counts(cast.observer)["inbox"] == sidebar_counts(cast.owner)["inbox"] == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_17_snooze_for_everyone_snoozes_every_copy_and_leaves_the_team_inbox(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    do_archive(conversation, acting_user=cast.observer)
    until = _later(hours=3)
    _prime(*_everyone(cast))
    mark = _mark()

    do_snooze(_fresh(conversation), acting_user=cast.owner, until=until, for_everyone=True)

    conversation = _fresh(conversation)
    assert conversation.snoozed_until == until and not conversation.in_team_inbox
    for user in (cast.owner, cast.teammate):
        state = state_of(conversation, user)
        assert (state.location, state.snoozed_until) == (Location.SNOOZED, until), user
    observer = state_of(conversation, cast.observer)
    assert (observer.location, observer.snoozed_until) == (Location.ARCHIVED, until), "snoozed, not in Inbox"
    assert _events_since(mark, conversation) == [(EventKind.SNOOZED_FOR_EVERYONE, None)]
    for user in (cast.owner, cast.teammate):
        assert sidebar_counts(user)["inbox"] == 0, user
        assert _team_count(user, cast.support) == 0, user
    _assert_counts_fresh(*_everyone(cast))


def test_row_18_discard_snooze_for_me_brings_it_back_now(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    do_snooze(conversation, acting_user=cast.teammate, until=_later(hours=3))
    do_snooze(_fresh(conversation), acting_user=cast.observer, until=_later(hours=3))
    _prime(*_everyone(cast))
    mark = _mark()

    do_unsnooze(_fresh(conversation), acting_user=cast.teammate)

    teammate = state_of(conversation, cast.teammate)
    assert (teammate.location, teammate.snoozed_until) == (Location.INBOX, None)
    assert _where(conversation, cast.observer) == Location.SNOOZED, "someone else's snooze is theirs"
    assert _events_since(mark, conversation) == [(EventKind.UNSNOOZED, cast.teammate.id)]
    assert sidebar_counts(cast.teammate)["inbox"] == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_18_discard_snooze_for_everyone_ends_it_for_everyone(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    do_archive(conversation, acting_user=cast.observer)
    do_snooze(_fresh(conversation), acting_user=cast.owner, until=_later(hours=3), for_everyone=True)
    _prime(*_everyone(cast))
    mark = _mark()

    do_unsnooze(_fresh(conversation), acting_user=cast.teammate)

    conversation = _fresh(conversation)
    for user in (cast.owner, cast.teammate):
        state = state_of(conversation, user)
        assert (state.location, state.snoozed_until) == (Location.INBOX, None), user
    observer = state_of(conversation, cast.observer)
    assert (observer.location, observer.snoozed_until) == (Location.ARCHIVED, None)
    assert conversation.snoozed_until is None and conversation.in_team_inbox, "back in: it is waiting"
    # It changed everyone's copy, so everyone sees who discarded it.
    assert _events_since(mark, conversation) == [(EventKind.UNSNOOZED, None)]
    for user in (cast.owner, cast.teammate):
        assert sidebar_counts(user)["inbox"] == 1, user
        assert _team_count(user, cast.support) == 1, user
    _assert_counts_fresh(*_everyone(cast))


def test_row_19_snooze_for_me_coming_due_returns_to_inbox_unread_and_orange(cast):
    conversation = receive(cast.support_account).conversation
    do_set_unread(conversation, acting_user=cast.teammate, unread=False)
    until = _later(hours=1)
    do_snooze(conversation, acting_user=cast.teammate, until=until)
    _prime(*_everyone(cast))
    mark = _mark()

    assert do_wake_due_snoozes(now=until - timedelta(minutes=1)) == 0
    assert _where(conversation, cast.teammate) == Location.SNOOZED, "not yet"

    assert do_wake_due_snoozes(now=until + timedelta(seconds=1)) == 1

    teammate = state_of(conversation, cast.teammate)
    assert (teammate.location, teammate.unread, teammate.snooze_due, teammate.snoozed_until) == (
        Location.INBOX,
        True,
        True,
        None,
    )
    assert _where(conversation, cast.owner) == Location.NONE, "unchanged"
    assert _fresh(conversation).in_team_inbox
    assert _events_since(mark, conversation) == [(EventKind.SNOOZE_DUE, cast.teammate.id)], "private reminder"
    assert sidebar_counts(cast.teammate)["inbox"] == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_19_snooze_for_everyone_coming_due_returns_every_copy_and_the_team_inbox(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    do_archive(conversation, acting_user=cast.observer)
    for user in (cast.owner, cast.teammate, cast.observer):
        do_set_unread(conversation, acting_user=user, unread=False)
    until = _later(hours=1)
    do_snooze(_fresh(conversation), acting_user=cast.owner, until=until, for_everyone=True)
    _prime(*_everyone(cast))
    mark = _mark()

    do_wake_due_snoozes(now=until + timedelta(seconds=1))

    conversation = _fresh(conversation)
    for user in (cast.owner, cast.teammate):
        state = state_of(conversation, user)
        assert (state.location, state.unread, state.snooze_due, state.snoozed_until) == (
            Location.INBOX,
            True,
            True,
            None,
        ), user
    observer = state_of(conversation, cast.observer)
    assert (observer.location, observer.unread, observer.snoozed_until) == (Location.ARCHIVED, True, None)
    assert conversation.snoozed_until is None and conversation.in_team_inbox
    assert _events_since(mark, conversation) == [(EventKind.SNOOZE_DUE, None)]
    for user in (cast.owner, cast.teammate):
        assert sidebar_counts(user)["inbox"] == 1, user
        assert _team_count(user, cast.support) == 1, user
    _assert_counts_fresh(*_everyone(cast))


def test_waking_due_snoozes_twice_changes_nothing_the_second_time(cast):
    conversation = _in_everyones_inbox_and_team_inbox(cast)
    until = _later(hours=1)
    do_snooze(conversation, acting_user=cast.owner, until=until, for_everyone=True)
    other = receive(cast.support_account).conversation
    do_snooze(other, acting_user=cast.teammate, until=until)
    now = until + timedelta(minutes=1)
    assert do_wake_due_snoozes(now=now) > 0
    rows = list(ConversationState.objects.order_by("id").values())
    conversations = list(Conversation.objects.order_by("id").values())
    mark = _mark()
    _prime(*_everyone(cast))

    assert do_wake_due_snoozes(now=now) == 0
    assert do_wake_due_snoozes(now=now + timedelta(hours=1)) == 0

    assert list(ConversationState.objects.order_by("id").values()) == rows
    assert list(Conversation.objects.order_by("id").values()) == conversations
    assert _mark() == mark, "no second event"
    _assert_counts_fresh(*_everyone(cast))


def test_wake_due_snoozes_task_calls_the_action(cast, monkeypatch):
    conversation = receive(cast.personal_account).conversation
    until = _later(minutes=5)
    do_snooze(conversation, acting_user=cast.owner, until=until)
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(minutes=10))

    tasks.wake_due_snoozes()

    state = state_of(conversation, cast.owner)
    assert (state.location, state.snooze_due) == (Location.INBOX, True)


def test_beat_wakes_due_snoozes_every_thirty_seconds():
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == tasks.wake_due_snoozes.name)
    assert entry["schedule"] == 30


# --- Rows 20-24: Trash ---------------------------------------------------------------------------


def test_row_20_trash_from_team_inbox_trashes_for_everyone_and_clears_team_labels_snoozes_and_pins(cast):
    conversation = receive(cast.support_account).conversation
    label = LabelFactory(organization=cast.org, name="VIP")
    ConversationLabel.objects.create(organization=cast.org, conversation=conversation, label=label)
    do_set_pinned(conversation, acting_user=cast.observer, pinned=True)
    do_snooze(conversation, acting_user=cast.teammate, until=_later(hours=3))
    assert sidebar_counts(cast.observer)["badge"] == 1, "pinned unread"
    _prime(*_everyone(cast))
    mark = _mark()

    do_trash(_fresh(conversation), acting_user=cast.owner, from_team_inbox=True)

    conversation = _fresh(conversation)
    for user in (cast.owner, cast.teammate, cast.observer):
        state = state_of(conversation, user)
        assert (state.location, state.pinned, state.snoozed_until) == (Location.TRASHED, False, None), user
    assert state_of(conversation, cast.teammate).location_before_trash == Location.SNOOZED
    assert not conversation.labels.exists()
    assert conversation.team is None and not conversation.in_team_inbox
    assert _events_since(mark, conversation) == [(EventKind.TRASHED_FOR_EVERYONE, None)]
    for user in (cast.owner, cast.teammate, cast.observer):
        assert _team_count(user, cast.support) == 0, user
        assert sidebar_counts(user)["badge"] == 0, user
    _assert_counts_fresh(*_everyone(cast))


def test_row_20_trash_from_team_inbox_removes_only_the_actor_from_assignees(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.owner, cast.teammate], acting_user=cast.owner)
    _prime(*_everyone(cast))
    mark = _mark()

    do_trash(_fresh(conversation), acting_user=cast.owner, from_team_inbox=True)

    conversation = _fresh(conversation)
    assert _assignees(conversation) == {cast.teammate.id}
    assert _where(conversation, cast.teammate) == Location.TRASHED, "everyone → Trash"
    assert _events_since(mark, conversation) == [(EventKind.UNASSIGNED, None), (EventKind.TRASHED_FOR_EVERYONE, None)]
    assert sidebar_counts(cast.teammate)["inbox"] == 0
    _assert_counts_fresh(*_everyone(cast))


def test_row_21_trash_elsewhere_trashes_my_copy_unassigns_me_and_recomputes_team_inbox(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.teammate, cast.observer], acting_user=cast.owner)
    _prime(*_everyone(cast))
    mark = _mark()

    do_trash(_fresh(conversation), acting_user=cast.teammate)

    conversation = _fresh(conversation)
    assert _where(conversation, cast.teammate) == Location.TRASHED
    assert _assignees(conversation) == {cast.observer.id}, "others stay"
    assert _where(conversation, cast.observer) == Location.INBOX
    assert _where(conversation, cast.owner) == Location.NONE
    assert conversation.team == cast.support and not conversation.in_team_inbox
    assert _events_since(mark, conversation) == [(EventKind.UNASSIGNED, None), (EventKind.TRASHED, cast.teammate.id)]

    do_trash(conversation, acting_user=cast.observer)

    conversation = _fresh(conversation)
    assert _assignees(conversation) == set()
    assert conversation.in_team_inbox, "unassigned: back in"
    assert _team_count(cast.owner, cast.support) == sidebar_counts(cast.owner)["badge"] == 1
    # Their own copies are in Trash: the team inbox count follows the list they see.
    for user in (cast.teammate, cast.observer):
        assert sidebar_counts(user)["inbox"] == 0, user
        assert _team_count(user, cast.support) == 0, user
        assert sidebar_counts(user)["badge"] == 0, user
    _assert_counts_fresh(*_everyone(cast))


def test_row_22_restore_from_trash_puts_it_back_where_it_was_without_assignments(cast):
    assigned = receive(cast.support_account).conversation
    do_assign_conversation(assigned, [cast.teammate], acting_user=cast.owner)
    do_trash(_fresh(assigned), acting_user=cast.teammate)
    snoozed = receive(cast.support_account).conversation
    do_snooze(snoozed, acting_user=cast.teammate, until=_later(hours=3))
    do_trash(_fresh(snoozed), acting_user=cast.teammate)
    archived = receive(cast.support_account).conversation
    do_archive(archived, acting_user=cast.teammate)
    do_trash(_fresh(archived), acting_user=cast.teammate)
    _prime(*_everyone(cast))
    mark = _mark()

    for conversation in (assigned, snoozed, archived):
        do_archive(_fresh(conversation), acting_user=cast.teammate)  # Backspace in Trash

    assert _where(assigned, cast.teammate) == Location.INBOX
    assert _assignees(assigned) == set(), "assignments are not restored"
    assert _where(snoozed, cast.teammate) == Location.INBOX, "it was snoozed"
    assert _where(archived, cast.teammate) == Location.ARCHIVED
    for conversation in (assigned, snoozed, archived):
        assert _events_since(mark, conversation) == [(EventKind.RESTORED, cast.teammate.id)]
        assert _where(conversation, cast.owner) == Location.NONE, "unchanged"
        assert _fresh(conversation).in_team_inbox, "unchanged"
    assert sidebar_counts(cast.teammate)["inbox"] == 2
    _assert_counts_fresh(*_everyone(cast))


def test_row_23_delete_forever_by_the_account_owner_deletes_for_everyone(cast):
    conversation = receive(cast.support_account).conversation
    do_trash(conversation, acting_user=cast.owner)
    _prime(*_everyone(cast))
    assert _team_count(cast.teammate, cast.support) == 1

    do_trash(_fresh(conversation), acting_user=cast.owner)

    assert not Conversation.objects.filter(id=conversation.id).exists()
    assert not ConversationState.objects.filter(conversation_id=conversation.id).exists()
    for user in (cast.owner, cast.teammate, cast.observer):
        assert _team_count(user, cast.support) == 0, user
        assert sidebar_counts(user)["badge"] == 0, user
    _assert_counts_fresh(*_everyone(cast))


def test_row_24_delete_forever_by_anyone_else_only_gives_up_their_own_access(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.teammate, cast.observer], acting_user=cast.owner)
    do_trash(_fresh(conversation), acting_user=cast.owner)
    do_trash(_fresh(conversation), acting_user=cast.teammate)
    assert _where(conversation, cast.owner) == Location.TRASHED
    _prime(*_everyone(cast))
    mark = _mark()

    do_trash(_fresh(conversation), acting_user=cast.teammate)

    conversation = _fresh(conversation)
    assert _where(conversation, cast.teammate) is None, "own row deleted"
    assert _assignees(conversation) == {cast.observer.id}, "others stay"
    assert _where(conversation, cast.owner) == Location.TRASHED, "keeps their copy in Trash"
    assert _where(conversation, cast.observer) == Location.INBOX
    assert not conversation.in_team_inbox, "unchanged"
    assert _events_since(mark, conversation) == []
    assert sidebar_counts(cast.teammate) == {
        "assigned": 0,
        "inbox": 0,
        "spam": 0,
        "teams": {},
        "team-inboxes": 0,
        "badge": 0,
        "activity": {},
    }
    _assert_counts_fresh(*_everyone(cast))


# --- Rows 25-27: spam ----------------------------------------------------------------------------


def test_row_25_spam_from_team_inbox_marks_it_spam_for_everyone(cast):
    conversation = receive(cast.support_account).conversation
    _prime(*_everyone(cast))
    mark = _mark()

    do_mark_spam(conversation, acting_user=cast.teammate, from_team_inbox=True)

    conversation = _fresh(conversation)
    assert conversation.is_spam and not conversation.in_team_inbox
    for user in (cast.owner, cast.teammate, cast.observer):
        assert _where(conversation, user) == Location.SPAM, user
        assert sidebar_counts(user)["spam"] == 1, user
        assert _team_count(user, cast.support) == 0, user
    # It moved everyone's copy, so it is not a private event.
    assert _events_since(mark, conversation) == [(EventKind.SPAM, None)]
    _assert_counts_fresh(*_everyone(cast))


def test_row_25_spam_from_team_inbox_keeps_assignees(cast):
    conversation = receive(cast.support_account).conversation
    do_assign_conversation(conversation, [cast.observer], acting_user=cast.owner)

    do_mark_spam(_fresh(conversation), acting_user=cast.teammate, from_team_inbox=True)

    assert _assignees(conversation) == {cast.observer.id}
    assert _where(conversation, cast.observer) == Location.SPAM


def test_row_26_spam_elsewhere_moves_only_my_copy(cast):
    conversation = receive(cast.support_account).conversation
    _prime(*_everyone(cast))
    mark = _mark()

    do_mark_spam(conversation, acting_user=cast.teammate)

    conversation = _fresh(conversation)
    assert _where(conversation, cast.teammate) == Location.SPAM
    assert _where(conversation, cast.owner) == _where(conversation, cast.observer) == Location.NONE
    assert not conversation.is_spam and conversation.in_team_inbox
    assert _events_since(mark, conversation) == [(EventKind.SPAM, cast.teammate.id)]
    teammate = sidebar_counts(cast.teammate)
    assert (teammate["spam"], _team_count(cast.teammate, cast.support), teammate["badge"]) == (1, 0, 0)
    assert _team_count(cast.owner, cast.support) == sidebar_counts(cast.owner)["badge"] == 1
    _assert_counts_fresh(*_everyone(cast))


def test_row_27_not_spam_lifts_a_team_wide_mark_for_everyone(cast):
    conversation = receive(cast.support_account).conversation
    do_mark_spam(conversation, acting_user=cast.teammate, from_team_inbox=True)
    _prime(*_everyone(cast))
    mark = _mark()

    do_mark_not_spam(_fresh(conversation), acting_user=cast.owner)

    conversation = _fresh(conversation)
    assert not conversation.is_spam and conversation.in_team_inbox, "back in: it is waiting"
    assert _where(conversation, cast.owner) == Location.INBOX
    assert _where(conversation, cast.teammate) == _where(conversation, cast.observer) == Location.NONE
    # Like the team-wide mark, lifting it changes everyone's copy: everyone sees the event.
    assert _events_since(mark, conversation) == [(EventKind.NOT_SPAM, None)]
    assert (sidebar_counts(cast.owner)["inbox"], sidebar_counts(cast.owner)["spam"]) == (1, 0)
    assert (sidebar_counts(cast.teammate)["spam"], _team_count(cast.teammate, cast.support)) == (0, 1)
    _assert_counts_fresh(*_everyone(cast))


def test_row_27_not_spam_on_my_own_mark_brings_it_to_my_inbox(cast):
    conversation = receive(cast.support_account).conversation
    do_mark_spam(conversation, acting_user=cast.teammate)
    _prime(*_everyone(cast))
    mark = _mark()

    do_mark_not_spam(_fresh(conversation), acting_user=cast.teammate)

    assert _where(conversation, cast.teammate) == Location.INBOX
    assert _where(conversation, cast.owner) == Location.NONE
    assert _events_since(mark, conversation) == [(EventKind.NOT_SPAM, cast.teammate.id)]
    assert (sidebar_counts(cast.teammate)["inbox"], sidebar_counts(cast.teammate)["spam"]) == (1, 0)
    _assert_counts_fresh(*_everyone(cast))


# --- Row 28: personal flags ----------------------------------------------------------------------


def test_row_28_read_unread_star_and_pin_change_only_my_own_flag(cast):
    conversation = receive(cast.support_account).conversation
    _prime(*_everyone(cast))
    mark = _mark()

    do_set_unread(conversation, acting_user=cast.owner, unread=False)
    do_set_starred(conversation, acting_user=cast.owner, starred=True)
    do_set_pinned(conversation, acting_user=cast.observer, pinned=True)

    owner, teammate, observer = (state_of(conversation, u) for u in (cast.owner, cast.teammate, cast.observer))
    assert (owner.unread, owner.starred, owner.pinned) == (False, True, False)
    assert (teammate.unread, teammate.starred, teammate.pinned) == (True, False, False)
    assert (observer.unread, observer.starred, observer.pinned) == (True, False, True)
    assert _events_since(mark, conversation) == [
        (EventKind.MARKED_READ, cast.owner.id),
        (EventKind.STARRED, cast.owner.id),
        (EventKind.PINNED, cast.observer.id),
    ]
    assert (_team_count(cast.owner, cast.support), sidebar_counts(cast.owner)["badge"]) == (0, 0)
    assert sidebar_counts(cast.teammate)["badge"] == 1
    assert sidebar_counts(cast.observer)["badge"] == 1, "pinned unread counts in the badge"
    _assert_counts_fresh(*_everyone(cast))

    do_set_unread(conversation, acting_user=cast.owner, unread=True)

    assert sidebar_counts(cast.owner)["badge"] == 1
    _assert_counts_fresh(*_everyone(cast))


# --- Row 29 and refusals -------------------------------------------------------------------------


def test_row_29_rooms_refuse_assign_close_and_move(cast):
    room = Conversation.objects.create(
        organization=cast.org, kind=ConversationKind.TEAM_ROOM, subject="Support room", team=cast.support
    )
    ConversationState.objects.create(
        organization=cast.org, conversation=room, user=cast.owner, access_source=AccessSource.TEAM
    )
    sales = do_create_team(cast.org, name="Sales")

    with pytest.raises(ActionRefused):
        do_assign_conversation(room, [cast.teammate], acting_user=cast.owner)
    with pytest.raises(ActionRefused):
        do_close(room, acting_user=cast.owner)
    with pytest.raises(ActionRefused):
        do_move_to_team(room, sales, acting_user=cast.owner)

    room = _fresh(room)
    assert room.status == Status.OPEN and room.team == cast.support and not room.in_team_inbox
    assert _assignees(room) == set()
    assert _where(room, cast.teammate) is None
    assert not room.events.exists()


def test_assigning_someone_from_another_organization_is_refused(cast):
    conversation = receive(cast.support_account).conversation

    with pytest.raises(ActionRefused):
        do_assign_conversation(conversation, [cast.teammate, cast.outsider], acting_user=cast.owner)

    conversation = _fresh(conversation)
    assert _assignees(conversation) == set()
    assert _where(conversation, cast.outsider) is None
    assert conversation.in_team_inbox and not conversation.events.exists()


def test_moving_to_a_team_of_another_organization_is_refused(cast):
    conversation = receive(cast.support_account).conversation

    with pytest.raises(ActionRefused):
        do_move_to_team(conversation, cast.outsider_team, acting_user=cast.owner)

    conversation = _fresh(conversation)
    assert conversation.team == cast.support and conversation.in_team_inbox
    assert _where(conversation, cast.outsider) is None
    assert not conversation.events.exists()
