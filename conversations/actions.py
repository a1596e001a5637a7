"""Every change to conversations that touches more than one row. One transaction each.

They implement the per-user and per-team state machine; docs/state-machine.md is the table of
what each action does to whom, and tests/conversations/test_state_machine.py has a test per row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from conversations import comment_files, live, quotes, search_index
from conversations.activity import record_activity, record_mentions, record_snooze_reminders
from conversations.attribution import acting_rule
from conversations.comment_format import MENTION
from conversations.counts import invalidate_counts_now_and_after_commit
from conversations.models import (
    VISIBLE_IN_ALL,
    AccessSource,
    ActivityKind,
    Assignment,
    BlockedSender,
    Comment,
    CommentAttachment,
    CommentReaction,
    Conversation,
    ConversationEvent,
    ConversationLabel,
    ConversationState,
    Direction,
    EventKind,
    Location,
    Message,
    Status,
)
from conversations.signals import provider_change, user_action
from inboxes import mention_groups
from inboxes.mention_groups import MENTION_ALL, mention_handle
from inboxes.models import (
    ArchiveAssigned,
    Membership,
    Team,
    TeamMembership,
    TeamRole,
    User,
)
from missive.ids import is_uuid

# A state's snooze, as ending or waking one rewrites it (saved by name: other fields, such as
# `assigned`, may have changed in the database since the object was read).
SNOOZE_FIELDS = ["location", "snoozed_until", "snooze_due", "snooze_leave_in_inbox", "snooze_discard_if_reply"]


def team_member_ids(team_id: UUID) -> list[UUID]:
    return list(TeamMembership.objects.filter(team_id=team_id).values_list("user_id", flat=True))


# --- Shared helpers ------------------------------------------------------------------------------


class ActionRefused(ValidationError):
    """The action does not apply here (e.g. closing a chat room); the message says why."""


def waits_in_team_inbox(conversation: Conversation, *, assigned: bool) -> bool:
    """Whether the conversation belongs in its team inbox (spec: in_team_inbox(T))."""
    return (
        conversation.team_id is not None
        and conversation.status == Status.OPEN
        and not conversation.is_spam
        and conversation.snoozed_until is None
        and not conversation.is_room
        and not assigned
    )


def refresh_team_inbox(conversation: Conversation) -> None:
    """Recompute whether the conversation is assigned and waits in its team inbox, and save
    what changed."""
    assigned = conversation.assignments.exists()
    waiting = waits_in_team_inbox(conversation, assigned=assigned)
    changed = [
        name
        for name, value in (("assigned", assigned), ("in_team_inbox", waiting))
        if getattr(conversation, name) != value
    ]
    if changed:
        conversation.assigned, conversation.in_team_inbox = assigned, waiting
        conversation.save(update_fields=changed)


def _event(
    conversation: Conversation, kind: str, actor: User | None, *, private: bool = False, **data: str
) -> ConversationEvent:
    rule = acting_rule()
    return ConversationEvent.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        actor=None if rule is not None else actor,
        kind=kind,
        data=data if rule is None else {"rule": rule, **data},
        private_to=actor if private else None,
    )


_NO_ACCESS = "You do not have access to this conversation."


def _state_of(conversation: Conversation, user: User) -> ConversationState:
    state = ConversationState.objects.select_for_update().filter(conversation=conversation, user=user).first()
    if state is None:
        raise ActionRefused(_NO_ACCESS)
    return state


def _set_own(conversation: Conversation, user: User, **values: bool) -> None:
    """A flag of the person's own copy, in one statement (that locks the row as _state_of does)."""
    if not ConversationState.objects.filter(conversation=conversation, user=user).update(**values):
        raise ActionRefused(_NO_ACCESS)


def _bump_activity(conversation: Conversation) -> None:
    """Status changes count as activity: the conversation rises in everyone's lists."""
    now = timezone.now()
    conversation.last_activity_at = now
    conversation.save(update_fields=["last_activity_at"])
    ConversationState.objects.filter(conversation=conversation).update(last_activity_at=now)


def _tell_provider(conversation: Conversation, user_id: UUID, change: str) -> None:
    """Let the account's transport mirror the owner's change on the mail server."""
    provider_change.send(Conversation, conversation=conversation, user_id=user_id, change=change)


def _check_not_room(conversation: Conversation, what: str) -> None:
    if conversation.is_room:
        raise ActionRefused(f"Chat rooms cannot be {what}.")


def _check_room_on(conversation: Conversation) -> None:
    if conversation.is_room_turned_off:
        raise ActionRefused("This team's chat room is turned off: its history is read-only.")


def _counts_changed(conversation: Conversation) -> None:
    """Everyone with access may see different sidebar counts after this transaction.

    Invalidated now and again after commit: a page view between the two could have cached the
    pre-commit numbers."""
    user_ids = list(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    invalidate_counts_now_and_after_commit(user_ids)
    # The same people see the change live (their lists, and the conversation if they have it open).
    live.publish_after_commit(conversation_ids=[conversation.id], user_ids=user_ids, kind="changed")


def announce_user_action(conversation: Conversation, action: str, acting_user: User | None, **data: object) -> None:
    """ "User action" rules hear of a real person's change after commit; a rule's (no acting
    person) is never announced, so rules never re-enter themselves."""
    if acting_user is None:
        return
    conversation_id, user_id = conversation.id, acting_user.id
    transaction.on_commit(
        lambda: user_action.send(
            Conversation, conversation_id=conversation_id, action=action, acting_user_id=user_id, data=data
        )
    )


# --- Archive, close, reopen -----------------------------------------------------------------------


@transaction.atomic
def do_archive(
    conversation: Conversation, *, acting_user: User, from_team_inbox: bool = False, close: bool | None = None
) -> None:
    """Backspace. From a team inbox it closes for the team; from the Inbox it archives for me, and
    as an assignee it asks (or follows the "Archiving assigned conversations" preference) whether
    to close too. From Trash it restores."""
    state = _state_of(conversation, acting_user)
    if state.location == Location.TRASHED:
        do_restore(conversation, acting_user=acting_user)
        return
    if from_team_inbox and not conversation.is_room:
        _tell_provider(conversation, acting_user.id, "archive")
        state.location, state.snooze_due = Location.ARCHIVED, False
        state.save(update_fields=["location", "snooze_due"])
        _event(
            conversation, EventKind.ARCHIVED_FOR_TEAM, acting_user, target=str(conversation.team or "the team inbox")
        )
        if conversation.status == Status.OPEN:
            do_close(conversation, acting_user=acting_user)
        _counts_changed(conversation)
        return
    is_assignee = conversation.assignments.filter(user=acting_user).exists()
    if is_assignee and conversation.status == Status.OPEN and close is None:
        if acting_user.archive_assigned == ArchiveAssigned.ASK:
            raise ArchiveNeedsChoice("You are assigned: archive only, or archive and close?")
        close = acting_user.archive_assigned == ArchiveAssigned.ARCHIVE_AND_CLOSE
    _tell_provider(conversation, acting_user.id, "archive")
    state.location, state.snooze_due = Location.ARCHIVED, False
    state.snoozed_until = None
    state.save(update_fields=["location", "snooze_due", "snoozed_until"])
    _event(conversation, EventKind.ARCHIVED, acting_user, private=True)
    if close and is_assignee and conversation.status == Status.OPEN:
        do_close(conversation, acting_user=acting_user)
    _counts_changed(conversation)


class ArchiveNeedsChoice(ActionRefused):
    """Archiving an assigned conversation with the "Ask" preference: the UI shows the prompt."""


@transaction.atomic
def do_close(conversation: Conversation, *, acting_user: User | None) -> None:
    """Shift+Backspace. Assignees are kept; it leaves the closer's Inbox, the team inbox, and the
    Inbox of everyone whose personal option is "Remove from my Inbox" (unless watching)."""
    _check_not_room(conversation, "closed")
    if conversation.status == Status.CLOSED:
        return
    conversation.status = Status.CLOSED
    conversation.save(update_fields=["status"])
    refresh_team_inbox(conversation)
    states = ConversationState.objects.filter(conversation=conversation, location=Location.INBOX)
    if acting_user is not None:
        states.filter(user=acting_user).update(location=Location.ARCHIVED)
    removers = Membership.objects.filter(
        organization_id=conversation.organization_id, remove_from_inbox_on_close=True
    ).values("user_id")
    states.filter(user_id__in=removers, watching=False).update(location=Location.ARCHIVED)
    _event(conversation, EventKind.CLOSED, acting_user)
    _bump_activity(conversation)
    _counts_changed(conversation)
    announce_user_action(conversation, "closed", acting_user)


@transaction.atomic
def do_reopen(conversation: Conversation, *, acting_user: User | None) -> None:
    """Back to open: each assignee gets it in their Inbox; unassigned, it returns to the team inbox."""
    if conversation.status == Status.OPEN:
        return
    conversation.status = Status.OPEN
    conversation.save(update_fields=["status"])
    assignee_ids = conversation.assignments.values("user_id")
    # Assignees who kept it in their Inbox after the close are told too: it turns unread.
    ConversationState.objects.filter(
        conversation=conversation,
        user_id__in=assignee_ids,
        location__in=[Location.INBOX, Location.NONE, Location.ARCHIVED],
    ).update(location=Location.INBOX, unread=True)
    refresh_team_inbox(conversation)
    _event(conversation, EventKind.REOPENED, acting_user)
    _bump_activity(conversation)
    _counts_changed(conversation)
    announce_user_action(conversation, "reopened", acting_user)


# --- Assignment and teams -------------------------------------------------------------------------


@transaction.atomic
def do_assign_conversation(
    conversation: Conversation, users: Iterable[User], *, acting_user: User | None, replace: bool = False
) -> None:
    """Assign people (Mod+Shift+D adds; Mod+D replaces with `replace=True`). Each assignee gains
    access, finds it at the top of their Inbox and watches it; it leaves the team inbox."""
    _check_not_room(conversation, "assigned")
    users = list(users)
    members = set(
        Membership.objects.filter(organization_id=conversation.organization_id, user__in=users).values_list(
            "user_id", flat=True
        )
    )
    if any(user.id not in members for user in users):
        raise ActionRefused("Conversations can only be assigned to members of their organization.")
    removed: list[str] = []
    added: list[str] = []
    if replace:
        for assignment in conversation.assignments.exclude(user__in=users).select_related("user"):
            _unassign(conversation, assignment, acting_user)
            removed.append(str(assignment.user_id))
    now = timezone.now()
    for user in users:
        _, created = Assignment.objects.get_or_create(
            organization_id=conversation.organization_id,
            conversation=conversation,
            user=user,
            defaults={"assigned_by": acting_user, "created_at": now},
        )
        if not created:
            continue
        added.append(str(user.id))
        ConversationState.objects.update_or_create(
            conversation=conversation,
            user=user,
            defaults={"location": Location.INBOX, "watching": True, "assigned": True, "last_activity_at": now},
            create_defaults={
                "organization_id": conversation.organization_id,
                "access_source": AccessSource.ASSIGNMENT,
                "location": Location.INBOX,
                "watching": True,
                "assigned": True,
                "unread": True,
                "last_activity_at": now,
            },
        )
        _event(conversation, EventKind.ASSIGNED, acting_user, target=user.display_name, user_id=str(user.id))
        record_activity(recipients=[user], kind=ActivityKind.ASSIGNED, conversation=conversation, actor=acting_user)
    refresh_team_inbox(conversation)
    _counts_changed(conversation)
    if added or removed:
        announce_user_action(
            conversation, "assignee_changed", acting_user, added_assignees=added, removed_assignees=removed
        )


def _unassign(conversation: Conversation, assignment: Assignment, acting_user: User | None) -> None:
    assignment.delete()
    ConversationState.objects.filter(conversation=conversation, user_id=assignment.user_id).update(assigned=False)
    _event(
        conversation,
        EventKind.UNASSIGNED,
        acting_user,
        target=assignment.user.display_name,
        user_id=str(assignment.user_id),
    )


@transaction.atomic
def do_unassign(conversation: Conversation, user: User, *, acting_user: User | None) -> None:
    """The unassigned person keeps access and their placement; with nobody left, a team
    conversation goes back to its team inbox."""
    assignment = conversation.assignments.filter(user=user).select_related("user").first()
    if assignment is None:
        return
    _unassign(conversation, assignment, acting_user)
    refresh_team_inbox(conversation)
    _counts_changed(conversation)
    announce_user_action(
        conversation, "assignee_changed", acting_user, added_assignees=[], removed_assignees=[str(user.id)]
    )


@transaction.atomic
def do_move_to_team(conversation: Conversation, team: Team, *, acting_user: User | None) -> None:
    """Transfer to another team: its members gain access, and it waits in that team's inbox if
    unassigned and open."""
    _check_not_room(conversation, "moved to a team")
    if team.organization_id != conversation.organization_id:
        raise ActionRefused("A conversation cannot move to a team of another organization.")
    if conversation.team_id == team.id:
        return
    previous_team = str(conversation.team_id or "")
    conversation.team = team
    conversation.is_shared = True
    conversation.save(update_fields=["team", "is_shared"])
    grant_team_access(team, team_member_ids(team.id), conversations=[conversation], unread=True)
    refresh_team_inbox(conversation)
    _event(conversation, EventKind.MOVED_TO_TEAM, acting_user, target=str(team))
    _counts_changed(conversation)
    announce_user_action(conversation, "team_changed", acting_user, new_team=str(team.id), previous_team=previous_team)


@transaction.atomic
def do_unassign_team(conversation: Conversation, *, acting_user: User | None) -> None:
    """Take the conversation out of its team without moving it anywhere (the rules' Unassign
    team): it leaves the team inbox; everyone keeps their access and placement."""
    if conversation.team_id is None:
        return
    team_name = str(conversation.team)
    previous_team = str(conversation.team_id)
    conversation.team = None
    conversation.save(update_fields=["team"])
    refresh_team_inbox(conversation)
    _event(conversation, EventKind.TEAM_REMOVED, acting_user, target=team_name)
    _counts_changed(conversation)
    announce_user_action(conversation, "team_changed", acting_user, new_team="", previous_team=previous_team)


@transaction.atomic
def do_set_color(conversation: Conversation, color: str, *, acting_user: User | None) -> None:
    """The conversation's color mark in the lists ("" removes it): a #rrggbb color."""
    color = color.strip().lower()
    if color and not re.fullmatch(r"#[0-9a-f]{6}", color):
        raise ActionRefused("Pick a color such as #ff8800.")
    if conversation.color == color:
        return
    conversation.color = color
    conversation.save(update_fields=["color"])
    _event(conversation, EventKind.COLOR_SET, acting_user, target=color or "none")
    _counts_changed(conversation)


# --- Snooze ---------------------------------------------------------------------------------------


@transaction.atomic
def do_snooze(
    conversation: Conversation,
    *,
    acting_user: User,
    until: datetime,
    for_everyone: bool = False,
    leave_in_inbox: bool = False,
    discard_if_reply: bool = False,
) -> None:
    """Hide the conversation until `until`. For me: it leaves my Inbox (unless "Leave in Inbox").
    For everyone: every participant's copy is snoozed and it leaves the team inbox."""
    if until <= timezone.now():
        raise ActionRefused("Pick a time in the future.")
    if for_everyone and conversation.is_room:
        raise ActionRefused("Chat rooms are snoozed for yourself only.")
    if acting_user.snooze_leave_in_inbox != leave_in_inbox:
        acting_user.snooze_leave_in_inbox = leave_in_inbox
        acting_user.save(update_fields=["snooze_leave_in_inbox"])
    _state_of(conversation, acting_user)
    states = ConversationState.objects.filter(conversation=conversation)
    if for_everyone:
        conversation.snoozed_until = until
        conversation.snooze_discard_if_reply = discard_if_reply
        conversation.save(update_fields=["snoozed_until", "snooze_discard_if_reply"])
        refresh_team_inbox(conversation)
        targets = states.exclude(location__in=[Location.TRASHED, Location.SPAM])
    else:
        targets = states.filter(user=acting_user)
    targets.update(
        snoozed_until=until,
        snooze_leave_in_inbox=leave_in_inbox,
        snooze_discard_if_reply=discard_if_reply,
        snooze_due=False,
    )
    if not leave_in_inbox:
        targets.filter(location=Location.INBOX).update(location=Location.SNOOZED)
        targets.filter(user=acting_user).exclude(location=Location.SNOOZED).update(location=Location.SNOOZED)
    kind = EventKind.SNOOZED_FOR_EVERYONE if for_everyone else EventKind.SNOOZED
    _event(conversation, kind, acting_user, private=not for_everyone, target=until.isoformat(), until=until.isoformat())
    _counts_changed(conversation)


@transaction.atomic
def do_unsnooze(conversation: Conversation, *, acting_user: User) -> None:
    """Discard snooze (Mod+J): back in my Inbox now; a snooze for everyone ends for everyone."""
    state = _state_of(conversation, acting_user)
    for_everyone = conversation.snoozed_until is not None
    if for_everyone:
        _clear_everyone_snooze(conversation)
    if state.snoozed_until or state.location == Location.SNOOZED:
        state.refresh_from_db()
        state.snoozed_until, state.snooze_due = None, False
        state.snooze_leave_in_inbox = state.snooze_discard_if_reply = False
        state.location = Location.INBOX
        state.save(update_fields=SNOOZE_FIELDS)
    # Ending a snooze for everyone changed everyone's copy: everyone sees who did it.
    _event(conversation, EventKind.UNSNOOZED, acting_user, private=not for_everyone)
    _counts_changed(conversation)


def _clear_everyone_snooze(conversation: Conversation) -> None:
    """Cancel a snooze for everyone now (Mod+J, or a reply it was waiting for)."""
    conversation.snoozed_until = None
    conversation.snooze_discard_if_reply = False
    conversation.save(update_fields=["snoozed_until", "snooze_discard_if_reply"])
    states = ConversationState.objects.filter(conversation=conversation)
    # Without its time a Snoozed copy would never come back: the copies it hid return now.
    states.filter(location=Location.SNOOZED).update(location=Location.INBOX)
    states.update(snoozed_until=None, snooze_leave_in_inbox=False, snooze_discard_if_reply=False)
    refresh_team_inbox(conversation)


@transaction.atomic
def do_wake_due_snoozes(*, now: datetime | None = None, limit: int = 500) -> int:
    """Beat task: snoozes whose time has come bring the conversation back to the Inbox with the
    orange "ready for follow-up" mark; a snooze for everyone also returns it to the team inbox.

    The due copies are woken together, in a few statements whatever their number."""
    now = now or timezone.now()
    due = list(
        ConversationState.objects.select_for_update(skip_locked=True)
        .filter(snoozed_until__lte=now)
        .order_by("snoozed_until")
        .values_list("id", "organization_id", "conversation_id", "user_id")[:limit]
    )
    for_everyone = set()
    for conversation in Conversation.objects.select_for_update(skip_locked=True).filter(snoozed_until__lte=now)[:limit]:
        conversation.snoozed_until = None
        conversation.snooze_discard_if_reply = False
        conversation.save(update_fields=["snoozed_until", "snooze_discard_if_reply"])
        refresh_team_inbox(conversation)
        for_everyone.add(conversation.id)
        _event(conversation, EventKind.SNOOZE_DUE, None)
    ConversationState.objects.filter(id__in=[state_id for state_id, *_ in due]).update(
        # A copy moved out of the Inbox meanwhile (archived, trashed...) stays where it is.
        location=Case(
            When(location__in=[Location.SNOOZED, Location.INBOX], then=Value(Location.INBOX)),
            default=F("location"),
        ),
        snoozed_until=None,
        snooze_due=True,
        snooze_leave_in_inbox=False,
        snooze_discard_if_reply=False,
        unread=True,
    )
    # A personal snooze is nobody else's business: only its owner sees the reminder.
    ConversationEvent.objects.bulk_create(
        ConversationEvent(
            organization_id=organization_id,
            conversation_id=conversation_id,
            kind=EventKind.SNOOZE_DUE,
            private_to_id=user_id,
        )
        for _, organization_id, conversation_id, user_id in due
        if conversation_id not in for_everyone
    )
    record_snooze_reminders([row[1:] for row in due], at=now)
    woken = for_everyone | {conversation_id for _, _, conversation_id, _ in due}
    live.publish_after_commit(conversation_ids=woken, kind="changed")
    invalidate_counts_now_and_after_commit(
        ConversationState.objects.filter(conversation_id__in=woken).values_list("user_id", flat=True).distinct()
    )
    return len(due)


# --- Trash, spam ----------------------------------------------------------------------------------


@transaction.atomic
def do_trash(conversation: Conversation, *, acting_user: User, from_team_inbox: bool = False) -> None:
    """Mod+Backspace. From a team inbox: Trash for everyone with access, out of the team, shared
    labels, snoozes and pins cleared. Elsewhere: only my copy. Either way I stop being assignee."""
    state = _state_of(conversation, acting_user)
    if state.location == Location.TRASHED:
        do_delete_forever(conversation, acting_user=acting_user)
        return
    _tell_provider(conversation, acting_user.id, "trash")
    mine = conversation.assignments.filter(user=acting_user).select_related("user").first()
    if mine:
        _unassign(conversation, mine, acting_user)
    if from_team_inbox and conversation.team_id and not conversation.is_room:
        states = ConversationState.objects.filter(conversation=conversation).exclude(location=Location.TRASHED)
        for row in states:
            row.location_before_trash = row.location
        ConversationState.objects.bulk_update(list(states), ["location_before_trash"])
        states.update(location=Location.TRASHED, snoozed_until=None, snooze_due=False, pinned=False)
        ConversationLabel.objects.filter(conversation=conversation).delete()
        team_name = str(conversation.team)
        conversation.team = None
        conversation.snoozed_until = None
        conversation.save(update_fields=["team", "snoozed_until"])
        _event(conversation, EventKind.TRASHED_FOR_EVERYONE, acting_user, target=f"(from {team_name})")
    else:
        state.location_before_trash = state.location
        state.location = Location.TRASHED
        state.snoozed_until, state.snooze_due, state.pinned = None, False, False
        # Named fields: _unassign above changed `assigned` in the database, not on this object.
        state.save(update_fields=["location_before_trash", "location", "snoozed_until", "snooze_due", "pinned"])
        _event(conversation, EventKind.TRASHED, acting_user, private=True)
    refresh_team_inbox(conversation)
    _counts_changed(conversation)


@transaction.atomic
def do_restore(conversation: Conversation, *, acting_user: User) -> None:
    """Out of Trash, back where it was. Assignments and labels are not restored."""
    state = _state_of(conversation, acting_user)
    if state.location != Location.TRASHED:
        return
    previous = state.location_before_trash
    state.location = previous if previous and previous not in (Location.TRASHED, Location.SNOOZED) else Location.INBOX
    state.location_before_trash = ""
    _tell_provider(conversation, acting_user.id, "inbox" if state.location == Location.INBOX else "archive")
    state.save(update_fields=["location", "location_before_trash"])
    _event(conversation, EventKind.RESTORED, acting_user, private=True)
    _counts_changed(conversation)


@transaction.atomic
def do_delete_forever(conversation: Conversation, *, acting_user: User) -> None:
    """Trash again from Trash. The owner of the account the mail came through deletes it for
    everyone; anyone else only gives up their own access."""
    state = _state_of(conversation, acting_user)
    _check_not_room(conversation, "deleted forever")
    if state.location != Location.TRASHED:
        raise ActionRefused("Only conversations in Trash can be deleted forever.")
    owns_account = Message.objects.filter(conversation=conversation, account__owner=acting_user).exists()
    user_ids = list(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    live.publish_after_commit(
        conversation_ids=[conversation.id], user_ids=user_ids if owns_account else [acting_user.id], kind="changed"
    )
    if owns_account:
        comment_files.discard_after_commit(CommentAttachment.objects.filter(comment__conversation=conversation))
        conversation.delete()
        invalidate_counts_now_and_after_commit(user_ids)
    else:
        conversation.assignments.filter(user=acting_user).delete()
        state.delete()
        invalidate_counts_now_and_after_commit([acting_user.id])


# Public webmail: blocking the whole domain would block millions of people (seed: Spam and blocking).
WEBMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "mail.com",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "fastmail.com",
    }
)


class BlockChoice:
    NONE = ""
    ADDRESS = "address"
    DOMAIN = "domain"


def spam_sender(conversation: Conversation) -> str:
    """The external sender a block applies to: the latest inbound message's."""
    message = (
        Message.objects.filter(conversation=conversation, direction=Direction.INBOUND)
        .exclude(from_address="")
        .order_by("-sent_at")
        .first()
    )
    return message.from_address.lower() if message else ""


def can_mark_spam(conversation: Conversation, user: User) -> bool:
    """Only for mail of accounts the user owns or shares, not for access gained by a mention."""
    state = ConversationState.objects.filter(conversation=conversation, user=user).first()
    if state is None:
        return False
    return (
        state.access_source in (AccessSource.ACCOUNT, AccessSource.TEAM)
        or Message.objects.filter(conversation=conversation, account__owner=user).exists()
    )


@transaction.atomic
def do_mark_spam(
    conversation: Conversation, *, acting_user: User, from_team_inbox: bool = False, block: str = BlockChoice.NONE
) -> None:
    """Spam for me; from a team inbox, spam for the whole team (it leaves the team inbox).
    `block` also blocks the sender's address or domain, so their next mail goes to Spam."""
    state = _state_of(conversation, acting_user)
    _check_not_room(conversation, "marked as spam")
    if not can_mark_spam(conversation, acting_user):
        raise PermissionDenied("Only mail from accounts you own or share can be marked as spam.")
    if block:
        _block_sender(conversation, acting_user, block)
    _tell_provider(conversation, acting_user.id, "spam")
    # Spam is not followed up on: its snoozes end without a reminder.
    no_snooze = {
        "snoozed_until": None,
        "snooze_due": False,
        "snooze_leave_in_inbox": False,
        "snooze_discard_if_reply": False,
    }
    if from_team_inbox and conversation.team_id:
        conversation.is_spam = True
        conversation.snoozed_until = None
        conversation.save(update_fields=["is_spam", "snoozed_until"])
        ConversationState.objects.filter(conversation=conversation).exclude(location=Location.TRASHED).update(
            location=Location.SPAM, **no_snooze
        )
        refresh_team_inbox(conversation)
    else:
        ConversationState.objects.filter(pk=state.pk).update(location=Location.SPAM, **no_snooze)
    _event(conversation, EventKind.SPAM, acting_user, private=not from_team_inbox)
    _counts_changed(conversation)


def _block_sender(conversation: Conversation, user: User, block: str) -> None:
    sender = spam_sender(conversation)
    if not sender:
        raise ActionRefused("This conversation has no sender to block.")
    domain = sender.rsplit("@", 1)[-1]
    if block == BlockChoice.DOMAIN and domain in WEBMAIL_DOMAINS:
        raise ActionRefused(f"{domain} is a public email provider: block the address instead.")
    # Blocks on conversations of the organization belong to it and outlive their maker.
    owner = None if conversation.is_shared or conversation.team_id else user
    values = {"address": sender} if block == BlockChoice.ADDRESS else {"domain": domain}
    BlockedSender.objects.get_or_create(
        organization_id=conversation.organization_id, user=owner, **values, defaults={"created_by": user}
    )


@transaction.atomic
def do_mark_not_spam(conversation: Conversation, *, acting_user: User) -> None:
    """Back to my Inbox; a team-wide spam mark is lifted for everyone, and the sender is unblocked
    (for the whole organization: any member may lift an organization block)."""
    state = _state_of(conversation, acting_user)
    sender = spam_sender(conversation)
    if sender:
        BlockedSender.objects.filter(
            Q(address=sender) | Q(domain=sender.rsplit("@", 1)[-1]),
            Q(user__isnull=True) | Q(user=acting_user),
            organization_id=conversation.organization_id,
        ).delete()
    team_wide = conversation.is_spam
    if team_wide:
        conversation.is_spam = False
        conversation.save(update_fields=["is_spam"])
        ConversationState.objects.filter(conversation=conversation, location=Location.SPAM).exclude(
            user=acting_user
        ).update(location=Location.NONE)
        refresh_team_inbox(conversation)
    _tell_provider(conversation, acting_user.id, "inbox")
    state.location = Location.INBOX
    state.save(update_fields=["location"])
    # Lifting a team-wide mark moves everyone's copy, like setting it: everyone sees the event.
    _event(conversation, EventKind.NOT_SPAM, acting_user, private=not team_wide)
    _counts_changed(conversation)


# --- Personal flags -------------------------------------------------------------------------------


@transaction.atomic
def do_mark_conversation_read(state: ConversationState) -> None:
    """Opening a conversation reads it, for this user only."""
    if state.unread or state.snooze_due:
        state.unread = False
        state.snooze_due = False
        state.last_read_at = timezone.now()
        state.save(update_fields=["unread", "snooze_due", "last_read_at"])
        _tell_provider(state.conversation, state.user_id, "read")
        invalidate_counts_now_and_after_commit([state.user_id])


@transaction.atomic
def do_set_unread(conversation: Conversation, *, acting_user: User, unread: bool) -> None:
    _set_own(conversation, acting_user, unread=unread)
    _tell_provider(conversation, acting_user.id, "unread" if unread else "read")
    _event(conversation, EventKind.MARKED_UNREAD if unread else EventKind.MARKED_READ, acting_user, private=True)
    invalidate_counts_now_and_after_commit([acting_user.id])


@transaction.atomic
def do_set_starred(conversation: Conversation, *, acting_user: User, starred: bool) -> None:
    _set_own(conversation, acting_user, starred=starred)
    _tell_provider(conversation, acting_user.id, "star" if starred else "unstar")
    _event(conversation, EventKind.STARRED if starred else EventKind.UNSTARRED, acting_user, private=True)


@transaction.atomic
def do_set_watching(conversation: Conversation, *, acting_user: User, watching: bool) -> None:
    """Watched, new messages, comments and task changes bring the conversation back to my Inbox;
    unwatched, only mentions, assignments and direct replies do. Assignees always watch."""
    state = _state_of(conversation, acting_user)
    if not watching and state.assigned:
        raise ActionRefused("Assignees always watch: unassign yourself first.")
    state.watching = watching
    state.save(update_fields=["watching"])


@transaction.atomic
def do_set_pinned(conversation: Conversation, *, acting_user: User, pinned: bool) -> None:
    _set_own(conversation, acting_user, pinned=pinned)
    _event(conversation, EventKind.PINNED if pinned else EventKind.UNPINNED, acting_user, private=True)
    invalidate_counts_now_and_after_commit([acting_user.id])


# --- Access follows team and organization membership (signals from inboxes) ---------------------


def grant_team_access(
    team: Team, user_ids: Iterable[UUID], *, conversations: Iterable[Conversation] | None = None, unread: bool = False
) -> None:
    """Team members see the team's conversations (not placed in their Inbox). A conversation
    moved into the team arrives unread, as new mail would."""
    pairs = (
        [(c.id, c.last_activity_at) for c in conversations]
        if conversations is not None
        else list(Conversation.objects.filter(team=team).values_list("id", "last_activity_at"))
    )
    rows = [
        ConversationState(
            organization_id=team.organization_id,
            conversation_id=conversation_id,
            user_id=user_id,
            access_source=AccessSource.TEAM,
            location=Location.NONE,
            unread=unread,
            last_activity_at=last_activity_at,
        )
        for user_id in user_ids
        for conversation_id, last_activity_at in pairs
    ]
    ConversationState.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    invalidate_counts_now_and_after_commit(list(user_ids))
    live.publish_after_commit(user_ids=list(user_ids), kind="access")


def revoke_team_access(team: Team, user_ids: Iterable[UUID]) -> None:
    """Former team members lose the access they had only through the team, at once."""
    user_ids = list(user_ids)
    ConversationState.objects.filter(
        conversation__team=team, user_id__in=user_ids, access_source=AccessSource.TEAM
    ).delete()
    invalidate_counts_now_and_after_commit(user_ids)
    live.publish_after_commit(user_ids=user_ids, kind="access")


def revoke_organization_access(organization_id: UUID, user_id: UUID) -> None:
    """A user removed from an organization loses every conversation of it, at once."""
    ConversationState.objects.filter(organization_id=organization_id, user_id=user_id).delete()
    assignments = Assignment.objects.filter(organization_id=organization_id, user_id=user_id)
    conversation_ids = list(assignments.values_list("conversation_id", flat=True))
    assignments.delete()
    # Conversations left with nobody assigned go back to their team inbox.
    for conversation in Conversation.objects.filter(id__in=conversation_ids):
        refresh_team_inbox(conversation)
        _counts_changed(conversation)
    invalidate_counts_now_and_after_commit([user_id])
    live.publish_after_commit(user_ids=[user_id], kind="access")


# --- Internal comments -----------------------------------------------------------------------------

# A handle after @ (see comment_format.MENTION) is an email's local part, a name with hyphens for
# spaces, a unique first name, a team's name, a mention group's name, or MENTION_ALL.


@dataclass
class Mentioned:
    users: set[UUID]
    everyone: bool = False


def people_by_handle(members: Sequence[User], handle: str) -> list[User]:
    """Whom an @handle (lower case) names among `members`: everyone whose email's local part or
    hyphenated name it is, else the one person with that first name (shared, it names nobody)."""
    exact = [u for u in members if handle in (u.email.split("@")[0].lower(), mention_handle(u.display_name))]
    if exact:
        return exact
    by_first_name = [u for u in members if u.first_name.lower() == handle]
    return by_first_name if len(by_first_name) == 1 else []


def mentioned(conversation: Conversation, body: str) -> Mentioned:
    """Who a comment mentions, among the organization's members and teams. A handle shared by
    several people (a first name) mentions nobody: the suggestions insert unique handles."""
    handles = {handle.lower().rstrip(".") for handle in MENTION.findall(body)}
    found = Mentioned(users=set(), everyone=MENTION_ALL in handles)
    handles.discard(MENTION_ALL)
    if not handles:
        return found
    members = list(User.objects.filter(memberships__organization_id=conversation.organization_id))
    for handle in handles:
        found.users.update(user.id for user in people_by_handle(members, handle))
    teams = Team.objects.filter(organization_id=conversation.organization_id)
    for team in teams:
        if mention_handle(team.name) in handles:
            roles = [TeamRole.ACTIVE, TeamRole.OBSERVER] if team.mention_adds_observers else [TeamRole.ACTIVE]
            found.users.update(team.memberships.filter(role__in=roles).values_list("user_id", flat=True))
    found.users.update(mention_groups.members_mentioned(conversation.organization_id, handles))
    return found


@transaction.atomic
def do_post_comment(
    conversation: Conversation,
    *,
    author: User,
    body: str,
    files: Sequence[UploadedFile] = (),
    quote: quotes.Quotable | None = None,
) -> Comment:
    """A comment in the conversation's internal chat. The author watches from now on; watchers
    find it back in their Inbox, and everyone with access sees it unread. An @mention gives the
    person access and puts the conversation in their Inbox; a private conversation becomes
    shared. @all brings it to the Inbox of everyone with access. It may carry files (or be only
    files) and quote a comment or message the author can see, of any of the organization's
    conversations."""
    body = body.strip()
    if not body and not files and quote is None:
        raise ActionRefused("Write something first.")
    _check_room_on(conversation)
    if problem := comment_files.upload_problem(files):
        raise ActionRefused(problem)
    state = _state_of(conversation, author)
    if quote is not None and (
        quote.organization_id != conversation.organization_id
        or not ConversationState.objects.filter(conversation_id=quote.conversation_id, user=author).exists()
    ):
        raise ActionRefused("That quote is not available here.")
    now = timezone.now()
    comment = Comment.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        author=author,
        body=body,
        created_at=now,
        by_rule=acting_rule() or "",  # posted through a person by a rule: shown as the rule's
    )
    comment_files.store(comment, files)
    if quote is not None:
        quotes.record(comment, quote)
    if not state.watching:
        state.watching = True
        state.save(update_fields=["watching"])
    mentions = mentioned(conversation, body)
    mentions.users.discard(author.id)
    others = ConversationState.objects.filter(conversation=conversation).exclude(user=author)
    others.filter(location__in=VISIBLE_IN_ALL).update(unread=True)
    # Watchers, or with @all everyone, find it back in their Inbox.
    returning = others if mentions.everyone else others.filter(watching=True)
    returning.filter(location__in=[Location.NONE, Location.ARCHIVED]).update(location=Location.INBOX)
    if conversation.is_room:  # who is in a room follows its organization, team or pair, not mentions
        mentions.users &= set(others.values_list("user_id", flat=True))
    if mentions.users:
        _bring_mentioned(conversation, mentions.users, author)
    record_mentions(comment, users=mentions.users, everyone=mentions.everyone)
    conversation.last_activity_at = now
    changed = ["last_activity_at"]
    if conversation.is_room:  # a room's row in the list shows its latest message
        conversation.preview = f"{author.display_name}: {body}"[:300]
        changed.append("preview")
    conversation.save(update_fields=changed)
    ConversationState.objects.filter(conversation=conversation).update(last_activity_at=now)
    search_index.queue(conversation.organization_id, [conversation.id])
    _counts_changed(conversation)
    if not conversation.is_room:
        announce_user_action(
            conversation,
            "new_comment",
            author,
            comment_id=str(comment.id),
            comment_text=body,
            mentions=[str(user_id) for user_id in mentions.users],
            is_task=False,
        )
    return comment


def _bring_mentioned(conversation: Conversation, user_ids: set[UUID], author: User) -> None:
    """Mentioned people gain access if they had none, and find the conversation in their Inbox."""
    newcomers = _grant_access(conversation, user_ids, source=AccessSource.MENTION, in_inbox=True)
    if newcomers:
        names = ", ".join(u.display_name for u in User.objects.filter(id__in=newcomers).order_by("name", "email"))
        _event(conversation, EventKind.SHARED, author, target=names)


def new_copy(
    conversation: Conversation,
    user_id: UUID,
    *,
    source: str,
    location: str = Location.NONE,
    unread: bool = False,
    watching: bool = False,
) -> ConversationState:
    """A person's own copy (state) of a conversation, not saved yet: `source` says how they got
    access, and it sorts by the conversation's last activity."""
    return ConversationState(
        organization_id=conversation.organization_id,
        conversation=conversation,
        user_id=user_id,
        access_source=source,
        location=location,
        unread=unread,
        watching=watching,
        last_activity_at=conversation.last_activity_at,
    )


def _grant_access(conversation: Conversation, user_ids: set[UUID], *, source: str, in_inbox: bool) -> set[UUID]:
    """People get the conversation: newcomers a copy of their own (`source` says how), in their
    Inbox or, without `in_inbox`, archived for reference; with `in_inbox`, the others' copies
    come to their Inbox too (not their own trashed or spam ones), unread. A conversation someone
    joined is shared. Returns who joined."""
    having = set(
        ConversationState.objects.filter(conversation=conversation, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
    if in_inbox:
        ConversationState.objects.filter(conversation=conversation, user_id__in=having).exclude(
            location__in=[Location.TRASHED, Location.SPAM]
        ).update(location=Location.INBOX, unread=True)
    newcomers = user_ids - having
    location = Location.INBOX if in_inbox else Location.ARCHIVED
    ConversationState.objects.bulk_create(
        new_copy(conversation, user_id, source=source, location=location, unread=in_inbox) for user_id in newcomers
    )
    if newcomers and not conversation.is_shared:
        conversation.is_shared = True
        conversation.save(update_fields=["is_shared"])
    return newcomers


def _comment_of(conversation: Conversation, comment_id: str) -> Comment:
    comment = Comment.objects.filter(conversation=conversation, id=comment_id).first() if is_uuid(comment_id) else None
    if comment is None:
        raise ActionRefused("That comment no longer exists.")
    return comment


@transaction.atomic
def do_edit_comment(conversation: Conversation, comment_id: str, *, acting_user: User, body: str) -> None:
    """Only its author edits a comment; it shows as edited."""
    _check_room_on(conversation)
    comment = _comment_of(conversation, comment_id)
    if comment.author_id != acting_user.id:
        raise ActionRefused("Only its author can edit a comment.")
    body = body.strip()
    if not body and not comment.files.exists() and not hasattr(comment, "quote"):
        raise ActionRefused("A comment cannot be empty: delete it instead.")
    comment.body, comment.edited_at = body, timezone.now()
    comment.save(update_fields=["body", "edited_at"])
    search_index.queue(conversation.organization_id, [conversation.id])
    live.publish_after_commit(conversation_ids=[conversation.id], kind="comment")


@transaction.atomic
def do_delete_comment(conversation: Conversation, comment_id: str, *, acting_user: User) -> None:
    """Owners and admins delete anyone's comment, members and guests only their own. It is gone
    for everyone, without undo."""
    comment = _comment_of(conversation, comment_id)
    if comment.author_id != acting_user.id:
        membership = Membership.objects.filter(organization_id=conversation.organization_id, user=acting_user).first()
        if membership is None or not membership.can_manage:
            raise ActionRefused("Only owners and admins can delete other people's comments.")
    comment_files.discard_after_commit(comment.files.all())
    comment.delete()
    search_index.queue(conversation.organization_id, [conversation.id])
    live.publish_after_commit(conversation_ids=[conversation.id], kind="comment")


# The reaction picker's emoji (the seed: hover a comment → emoji icon).
REACTIONS = ["👍", "❤️", "😄", "🎉", "👀", "✅"]


@transaction.atomic
def do_toggle_reaction(conversation: Conversation, comment_id: str, *, acting_user: User, emoji: str) -> None:
    """Add my reaction to a comment, or take it back. Its author sees it in their Activity feed;
    nothing turns unread or comes back to an Inbox."""
    _state_of(conversation, acting_user)
    _check_room_on(conversation)
    if emoji not in REACTIONS:
        raise ActionRefused("Pick one of the offered reactions.")
    comment = _comment_of(conversation, comment_id)
    removed, _ = CommentReaction.objects.filter(comment=comment, user=acting_user, emoji=emoji).delete()
    if not removed:
        CommentReaction.objects.create(
            organization_id=conversation.organization_id, comment=comment, user=acting_user, emoji=emoji
        )
        authors = [comment.author_id] if comment.author_id else []
        record_activity(
            recipients=authors,
            kind=ActivityKind.REACTION,
            conversation=conversation,
            actor=acting_user,
            comment=comment,
            data={"emoji": emoji},
        )
    live.publish_after_commit(conversation_ids=[conversation.id], kind="comment")


# --- Sharing (the Add people menu) -----------------------------------------------------------------


@transaction.atomic
def do_share_conversation(
    conversation: Conversation,
    *,
    acting_user: User,
    users: Iterable[User] = (),
    teams: Iterable[Team] = (),
    show_in_inbox: bool,
) -> None:
    """Give people, or every member of teams, access to the conversation: in their Inbox, or
    (unchecked "Show in their inbox") archived, for reference. The choice is remembered."""
    _state_of(conversation, acting_user)
    if conversation.is_room:
        raise ActionRefused("People join a chat room with its organization or team: rooms cannot be shared.")
    users, teams = list(users), list(teams)
    if any(team.organization_id != conversation.organization_id for team in teams):
        raise ActionRefused("Share with teams of the conversation's organization.")
    members = set(
        Membership.objects.filter(organization_id=conversation.organization_id).values_list("user_id", flat=True)
    )
    if any(user.id not in members for user in users):
        raise ActionRefused("Share with people of the conversation's organization.")
    from_teams = set(TeamMembership.objects.filter(team__in=teams).values_list("user_id", flat=True))
    user_ids = {user.id for user in users} | from_teams
    if not user_ids:
        raise ActionRefused("Pick people or teams to add.")
    newcomers = _grant_access(conversation, user_ids, source=AccessSource.ADDED, in_inbox=show_in_inbox)
    if newcomers:
        people = User.objects.filter(id__in=newcomers - from_teams).order_by("name", "email")
        names = [str(team) for team in teams] + [user.display_name for user in people]
        _event(conversation, EventKind.SHARED, acting_user, target=", ".join(names))
    if acting_user.share_shows_in_inbox != show_in_inbox:
        acting_user.share_shows_in_inbox = show_in_inbox
        acting_user.save(update_fields=["share_shows_in_inbox"])
    _counts_changed(conversation)


@transaction.atomic
def do_remove_access(conversation: Conversation, user: User, *, acting_user: User) -> None:
    """Take someone off the conversation, at once: their copy goes, and so does their assignment."""
    _state_of(conversation, acting_user)
    if conversation.is_room:
        raise ActionRefused("People leave a chat room with its organization or team: nobody is removed from it.")
    state = ConversationState.objects.filter(conversation=conversation, user=user).first()
    if state is None:
        return
    assignment = conversation.assignments.filter(user=user).select_related("user").first()
    if assignment is not None:
        _unassign(conversation, assignment, acting_user)
        refresh_team_inbox(conversation)
    _counts_changed(conversation)  # before the copy goes, so its owner's counts are redone too
    state.delete()
    _event(conversation, EventKind.ACCESS_REMOVED, acting_user, target=user.display_name)
