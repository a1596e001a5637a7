"""Every change to conversations that touches more than one row. One transaction each.

They implement the per-user and per-team state machine; docs/state-machine.md is the table of
what each action does to whom, and tests/conversations/test_state_machine.py has a test per row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations.counts import invalidate_counts
from conversations.models import (
    AccessSource,
    Assignment,
    Attachment,
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
from inboxes.models import (
    Account,
    AccountAccess,
    ArchiveAssigned,
    Membership,
    NewMessages,
    Team,
    TeamMembership,
    User,
)

PREVIEW_LENGTH = 200
_WHITESPACE = re.compile(r"\s+")


@dataclass
class IncomingAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""
    is_inline: bool = False


@dataclass
class IncomingMessage:
    """A parsed external message, as a channel transport hands it over."""

    from_address: str
    subject: str
    body_text: str
    from_name: str = ""
    to: list[dict[str, str]] = field(default_factory=list)
    cc: list[dict[str, str]] = field(default_factory=list)
    body_html: str = ""
    rfc_message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    sent_at: datetime | None = None
    attachments: list[IncomingAttachment] = field(default_factory=list)
    reply_to: list[dict[str, str]] = field(default_factory=list)
    # The original bytes (emails): stored before anything else, downloadable, re-parsable.
    raw: bytes | None = None
    # Why the bytes could not be parsed; the message is then kept and shown raw.
    parse_error: str = ""
    is_auto_reply: bool = False
    is_bulk: bool = False
    has_read_trackers: bool = False


def make_preview(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()[:PREVIEW_LENGTH]


def _find_thread(account: Account, incoming: IncomingMessage) -> Conversation | None:
    """The conversation an incoming message replies to, by its In-Reply-To / References."""
    parent_ids = [mid for mid in [incoming.in_reply_to, *incoming.references] if mid]
    if not parent_ids:
        return None
    parent = (
        Message.objects.filter(organization_id=account.organization_id, rfc_message_id__in=parent_ids)
        .select_related("conversation")
        .order_by("-sent_at")
        .first()
    )
    return parent.conversation if parent else None


def _team_member_ids(team_id: UUID) -> list[UUID]:
    return list(TeamMembership.objects.filter(team_id=team_id).values_list("user_id", flat=True))


def _recipients_for_new_conversation(account: Account) -> dict[UUID, tuple[str, str]]:
    """user id -> (location, access source) for a new conversation arriving on the account."""
    placement: dict[UUID, tuple[str, str]] = {}
    if account.delivers_to_team_inbox and account.team_id:
        for user_id in _team_member_ids(account.team_id):
            placement[user_id] = (Location.NONE, AccessSource.TEAM)
    elif account.is_shared:
        for access in AccountAccess.objects.filter(account=account):
            location = Location.INBOX if access.new_messages == NewMessages.INBOX else Location.NONE
            if access.user_id:
                placement[access.user_id] = (location, AccessSource.ACCOUNT)
            elif access.team_id:
                for user_id in _team_member_ids(access.team_id):
                    placement.setdefault(user_id, (location, AccessSource.TEAM))
    # The person who connected the account always has access to all of its content. A team inbox
    # delivery changes nobody's Inbox, so an owner outside the team finds it where members do.
    owner_location = Location.NONE if account.delivers_to_team_inbox else Location.INBOX
    placement.setdefault(account.owner_id, (owner_location, AccessSource.ACCOUNT))
    return placement


@transaction.atomic
def do_receive_message(account: Account, incoming: IncomingMessage) -> Message:
    """Store an inbound message, threading it, and move per-user state as the state machine says.

    New conversation: delivered to the owner (personal), to each user with access (Inbox mode, or
    auto-archived) or to the team inbox. Existing conversation: unread for everyone with access,
    watchers and assignees back to their Inbox, a closed conversation reopened, an unassigned one
    back in its team inbox.
    """
    sent_at = incoming.sent_at or timezone.now()
    conversation = _find_thread(account, incoming)
    is_new = conversation is None
    if conversation is None:
        conversation = Conversation.objects.create(
            organization_id=account.organization_id,
            subject=incoming.subject,
            team_id=account.team_id if account.delivers_to_team_inbox else None,
            is_shared=account.is_shared,
            created_at=sent_at,
            last_activity_at=sent_at,
        )
    message = Message.objects.create(
        organization_id=account.organization_id,
        conversation=conversation,
        account=account,
        direction=Direction.INBOUND,
        from_name=incoming.from_name,
        from_address=incoming.from_address,
        to=incoming.to,
        cc=incoming.cc,
        subject=incoming.subject,
        body_text=incoming.body_text,
        body_html=incoming.body_html,
        rfc_message_id=incoming.rfc_message_id,
        in_reply_to=incoming.in_reply_to,
        references=" ".join(incoming.references),
        sent_at=sent_at,
    )
    for item in incoming.attachments:
        attachment = Attachment(
            organization_id=account.organization_id,
            message=message,
            filename=item.filename,
            content_type=item.content_type,
            size=len(item.content),
            content_id=item.content_id,
            is_inline=item.is_inline,
        )
        attachment.file.save(item.filename, ContentFile(item.content), save=False)
        attachment.save()

    _update_summary(conversation, message, has_attachments=bool(incoming.attachments))
    if is_new:
        _grant_initial_access(conversation, account)
    else:
        _apply_new_message_to_existing(conversation, account)
    _counts_changed(conversation)
    return message


def _update_summary(conversation: Conversation, message: Message, *, has_attachments: bool) -> None:
    participant = {"name": message.from_name, "address": message.from_address}
    participants = [p for p in conversation.participants if p.get("address") != message.from_address]
    conversation.participants = [participant, *participants][:10]
    conversation.preview = make_preview(message.body_text)
    conversation.message_count += 1
    conversation.has_attachments = conversation.has_attachments or has_attachments
    conversation.last_activity_at = max(conversation.last_activity_at, message.sent_at)
    conversation.save()


def _grant_initial_access(conversation: Conversation, account: Account) -> None:
    rows = [
        ConversationState(
            organization_id=conversation.organization_id,
            conversation=conversation,
            user_id=user_id,
            location=location,
            access_source=source,
            unread=True,
            last_activity_at=conversation.last_activity_at,
        )
        for user_id, (location, source) in _recipients_for_new_conversation(account).items()
    ]
    ConversationState.objects.bulk_create(rows, ignore_conflicts=True)
    refresh_team_inbox(conversation)


def _apply_new_message_to_existing(conversation: Conversation, account: Account) -> None:
    """State machine event 1 on an existing conversation (docs/state-machine.md)."""
    assignee_ids = set(conversation.assignments.values_list("user_id", flat=True))
    if conversation.status == Status.CLOSED:
        conversation.status = Status.OPEN
        conversation.save(update_fields=["status"])
        _event(conversation, EventKind.REOPENED, None, target="by a new message")
    if conversation.snoozed_until and conversation.snooze_discard_if_reply:
        _clear_everyone_snooze(conversation)
    states = ConversationState.objects.filter(conversation=conversation)
    states.update(unread=True, last_activity_at=conversation.last_activity_at)
    # A reply cancels personal snoozes that asked for it; the conversation needs attention now.
    states.filter(snoozed_until__isnull=False, snooze_discard_if_reply=True).update(
        snoozed_until=None, snooze_discard_if_reply=False, snooze_leave_in_inbox=False, location=Location.INBOX
    )
    team = conversation.team
    to_team_inbox = bool(team and assignee_ids and team.reply_to_assigned_goes_to_team_inbox)
    inbox_users = {
        uid for uid, (location, _) in _recipients_for_new_conversation(account).items() if location == Location.INBOX
    }
    if not to_team_inbox:
        inbox_users |= assignee_ids
    back_to_inbox = Q(watching=True) | Q(user_id__in=inbox_users)
    returning = states.filter(back_to_inbox, location__in=[Location.NONE, Location.ARCHIVED])
    if to_team_inbox:
        # The team option sends the reply to the team inbox instead: assignees stay put even
        # though assigning made them watchers.
        returning = returning.exclude(user_id__in=assignee_ids)
    returning.update(location=Location.INBOX)
    if to_team_inbox:
        conversation.in_team_inbox = True
        conversation.save(update_fields=["in_team_inbox"])
    else:
        refresh_team_inbox(conversation)


# --- Shared helpers ------------------------------------------------------------------------------


class ActionRefused(ValidationError):
    """The action does not apply here (e.g. closing a chat room); the message says why."""


def refresh_team_inbox(conversation: Conversation) -> None:
    """Recompute whether the conversation waits in its team inbox (spec: in_team_inbox(T))."""
    waiting = (
        conversation.team_id is not None
        and conversation.status == Status.OPEN
        and not conversation.is_spam
        and conversation.snoozed_until is None
        and not conversation.is_room
        and not conversation.assignments.exists()
    )
    if waiting != conversation.in_team_inbox:
        conversation.in_team_inbox = waiting
        conversation.save(update_fields=["in_team_inbox"])


def _event(
    conversation: Conversation, kind: str, actor: User | None, *, private: bool = False, **data: str
) -> ConversationEvent:
    return ConversationEvent.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        actor=actor,
        kind=kind,
        data=data,
        private_to=actor if private else None,
    )


def _state_of(conversation: Conversation, user: User) -> ConversationState:
    state = ConversationState.objects.select_for_update().filter(conversation=conversation, user=user).first()
    if state is None:
        raise ActionRefused("You do not have access to this conversation.")
    return state


def _bump_activity(conversation: Conversation) -> None:
    """Status changes count as activity: the conversation rises in everyone's lists."""
    now = timezone.now()
    conversation.last_activity_at = now
    conversation.save(update_fields=["last_activity_at"])
    ConversationState.objects.filter(conversation=conversation).update(last_activity_at=now)


def _check_not_room(conversation: Conversation, what: str) -> None:
    if conversation.is_room:
        raise ActionRefused(f"Chat rooms cannot be {what}.")


def _counts_changed(conversation: Conversation) -> None:
    """Everyone with access may see different sidebar counts after this transaction.

    Invalidated now and again after commit: a page view between the two could have cached the
    pre-commit numbers."""
    user_ids = list(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    _invalidate_now_and_after_commit(user_ids)


def _invalidate_now_and_after_commit(user_ids: list[UUID]) -> None:
    invalidate_counts(user_ids)
    transaction.on_commit(lambda: invalidate_counts(user_ids))


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
    if replace:
        for assignment in conversation.assignments.exclude(user__in=users).select_related("user"):
            _unassign(conversation, assignment, acting_user)
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
        ConversationState.objects.update_or_create(
            conversation=conversation,
            user=user,
            defaults={"location": Location.INBOX, "watching": True, "last_activity_at": now},
            create_defaults={
                "organization_id": conversation.organization_id,
                "access_source": AccessSource.ASSIGNMENT,
                "location": Location.INBOX,
                "watching": True,
                "unread": True,
                "last_activity_at": now,
            },
        )
        _event(conversation, EventKind.ASSIGNED, acting_user, target=user.display_name, user_id=str(user.id))
    refresh_team_inbox(conversation)
    _counts_changed(conversation)


def _unassign(conversation: Conversation, assignment: Assignment, acting_user: User | None) -> None:
    assignment.delete()
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


@transaction.atomic
def do_move_to_team(conversation: Conversation, team: Team, *, acting_user: User | None) -> None:
    """Transfer to another team: its members gain access, and it waits in that team's inbox if
    unassigned and open."""
    _check_not_room(conversation, "moved to a team")
    if team.organization_id != conversation.organization_id:
        raise ActionRefused("A conversation cannot move to a team of another organization.")
    if conversation.team_id == team.id:
        return
    conversation.team = team
    conversation.is_shared = True
    conversation.save(update_fields=["team", "is_shared"])
    grant_team_access(team, _team_member_ids(team.id), conversations=[conversation], unread=True)
    refresh_team_inbox(conversation)
    _event(conversation, EventKind.MOVED_TO_TEAM, acting_user, target=str(team))
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
        state.save()
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
    orange "ready for follow-up" mark; a snooze for everyone also returns it to the team inbox."""
    now = now or timezone.now()
    due_states = list(
        ConversationState.objects.select_for_update(skip_locked=True)
        .filter(snoozed_until__lte=now)
        .select_related("conversation")
        .order_by("snoozed_until")[:limit]
    )
    for_everyone = set()
    for conversation in Conversation.objects.select_for_update(skip_locked=True).filter(snoozed_until__lte=now)[:limit]:
        conversation.snoozed_until = None
        conversation.snooze_discard_if_reply = False
        conversation.save(update_fields=["snoozed_until", "snooze_discard_if_reply"])
        refresh_team_inbox(conversation)
        for_everyone.add(conversation.id)
        _event(conversation, EventKind.SNOOZE_DUE, None)
    conversation_ids = set(for_everyone)
    for state in due_states:
        state.location = Location.INBOX if state.location in (Location.SNOOZED, Location.INBOX) else state.location
        state.snoozed_until = None
        state.snooze_due = True
        state.snooze_leave_in_inbox = state.snooze_discard_if_reply = False
        state.unread = True
        state.save()
        if state.conversation_id not in for_everyone:
            # A personal snooze is nobody else's business: only its owner sees the reminder.
            ConversationEvent.objects.create(
                organization_id=state.organization_id,
                conversation_id=state.conversation_id,
                kind=EventKind.SNOOZE_DUE,
                private_to_id=state.user_id,
            )
        conversation_ids.add(state.conversation_id)
    for conversation in Conversation.objects.filter(id__in=conversation_ids):
        _counts_changed(conversation)
    return len(due_states)


# --- Trash, spam ----------------------------------------------------------------------------------


@transaction.atomic
def do_trash(conversation: Conversation, *, acting_user: User, from_team_inbox: bool = False) -> None:
    """Mod+Backspace. From a team inbox: Trash for everyone with access, out of the team, shared
    labels, snoozes and pins cleared. Elsewhere: only my copy. Either way I stop being assignee."""
    state = _state_of(conversation, acting_user)
    if state.location == Location.TRASHED:
        do_delete_forever(conversation, acting_user=acting_user)
        return
    mine = conversation.assignments.filter(user=acting_user).select_related("user").first()
    if mine:
        _unassign(conversation, mine, acting_user)
    if from_team_inbox and conversation.team_id:
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
        state.save()
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
    state.save(update_fields=["location", "location_before_trash"])
    _event(conversation, EventKind.RESTORED, acting_user, private=True)
    _counts_changed(conversation)


@transaction.atomic
def do_delete_forever(conversation: Conversation, *, acting_user: User) -> None:
    """Trash again from Trash. The owner of the account the mail came through deletes it for
    everyone; anyone else only gives up their own access."""
    state = _state_of(conversation, acting_user)
    if state.location != Location.TRASHED:
        raise ActionRefused("Only conversations in Trash can be deleted forever.")
    owns_account = Message.objects.filter(conversation=conversation, account__owner=acting_user).exists()
    user_ids = list(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    if owns_account:
        conversation.delete()
        _invalidate_now_and_after_commit(user_ids)
    else:
        conversation.assignments.filter(user=acting_user).delete()
        state.delete()
        _invalidate_now_and_after_commit([acting_user.id])


@transaction.atomic
def do_mark_spam(conversation: Conversation, *, acting_user: User, from_team_inbox: bool = False) -> None:
    """Spam for me; from a team inbox, spam for the whole team (it leaves the team inbox)."""
    state = _state_of(conversation, acting_user)
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


@transaction.atomic
def do_mark_not_spam(conversation: Conversation, *, acting_user: User) -> None:
    """Back to my Inbox; a team-wide spam mark is lifted for everyone."""
    state = _state_of(conversation, acting_user)
    team_wide = conversation.is_spam
    if team_wide:
        conversation.is_spam = False
        conversation.save(update_fields=["is_spam"])
        ConversationState.objects.filter(conversation=conversation, location=Location.SPAM).exclude(
            user=acting_user
        ).update(location=Location.NONE)
        refresh_team_inbox(conversation)
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
        _invalidate_now_and_after_commit([state.user_id])


@transaction.atomic
def do_set_unread(conversation: Conversation, *, acting_user: User, unread: bool) -> None:
    state = _state_of(conversation, acting_user)
    state.unread = unread
    state.save(update_fields=["unread"])
    _event(conversation, EventKind.MARKED_UNREAD if unread else EventKind.MARKED_READ, acting_user, private=True)
    _invalidate_now_and_after_commit([acting_user.id])


@transaction.atomic
def do_set_starred(conversation: Conversation, *, acting_user: User, starred: bool) -> None:
    state = _state_of(conversation, acting_user)
    state.starred = starred
    state.save(update_fields=["starred"])
    _event(conversation, EventKind.STARRED if starred else EventKind.UNSTARRED, acting_user, private=True)


@transaction.atomic
def do_set_pinned(conversation: Conversation, *, acting_user: User, pinned: bool) -> None:
    state = _state_of(conversation, acting_user)
    state.pinned = pinned
    state.save(update_fields=["pinned"])
    _event(conversation, EventKind.PINNED if pinned else EventKind.UNPINNED, acting_user, private=True)
    _invalidate_now_and_after_commit([acting_user.id])


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
    _invalidate_now_and_after_commit(list(user_ids))


def revoke_team_access(team: Team, user_ids: Iterable[UUID]) -> None:
    """Former team members lose the access they had only through the team, at once."""
    user_ids = list(user_ids)
    ConversationState.objects.filter(
        conversation__team=team, user_id__in=user_ids, access_source=AccessSource.TEAM
    ).delete()
    _invalidate_now_and_after_commit(user_ids)


def revoke_organization_access(organization_id: UUID, user_id: UUID) -> None:
    """A user removed from an organization loses every conversation of it, at once."""
    ConversationState.objects.filter(organization_id=organization_id, user_id=user_id).delete()
    Assignment.objects.filter(organization_id=organization_id, user_id=user_id).delete()
    _invalidate_now_and_after_commit([user_id])
