"""Every change to conversations that touches more than one row. One transaction each.

The state machine these follow is in spec/features-3.md ("State machine"); triage actions
(archive, close, snooze, trash...) come with the triage work and live here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations.models import (
    AccessSource,
    Assignment,
    Attachment,
    Conversation,
    ConversationEvent,
    ConversationState,
    Direction,
    EventKind,
    Location,
    Message,
    Status,
)
from inboxes.models import Account, AccountAccess, NewMessages, Team, TeamMembership, User

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
    # The person who connected the account always has access to all of its content.
    placement.setdefault(account.owner_id, (Location.INBOX, AccessSource.ACCOUNT))
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
        _apply_new_message_to_existing(conversation)
    return message


def _update_summary(conversation: Conversation, message: Message, *, has_attachments: bool) -> None:
    participant = {"name": message.from_name, "address": message.from_address}
    participants = [p for p in conversation.participants if p.get("address") != message.from_address]
    conversation.participants = [participant, *participants][:10]
    conversation.preview = make_preview(message.body_text)
    conversation.message_count += 1
    conversation.has_attachments = conversation.has_attachments or has_attachments
    conversation.last_activity_at = max(conversation.last_activity_at, message.sent_at)
    if conversation.team_id and not conversation.assignments.exists() and conversation.status == Status.OPEN:
        conversation.in_team_inbox = True
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


def _apply_new_message_to_existing(conversation: Conversation) -> None:
    assignee_ids = list(conversation.assignments.values_list("user_id", flat=True))
    if conversation.status == Status.CLOSED:
        conversation.status = Status.OPEN
        conversation.in_team_inbox = bool(conversation.team_id) and not assignee_ids
        conversation.save(update_fields=["status", "in_team_inbox"])
        ConversationEvent.objects.create(
            organization_id=conversation.organization_id, conversation=conversation, kind=EventKind.REOPENED
        )
    states = ConversationState.objects.filter(conversation=conversation)
    states.update(unread=True, last_activity_at=conversation.last_activity_at)
    back_to_inbox = Q(watching=True) | Q(user_id__in=assignee_ids) | Q(access_source=AccessSource.ACCOUNT)
    states.filter(back_to_inbox).exclude(location__in=[Location.TRASHED, Location.SPAM]).update(location=Location.INBOX)


@transaction.atomic
def do_assign_conversation(conversation: Conversation, users: Iterable[User], *, acting_user: User | None) -> None:
    """Add assignees: each gains access, gets it in their Inbox and watches it; the conversation
    leaves the team inbox for everyone."""
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
            defaults={"location": Location.INBOX, "watching": True},
            create_defaults={
                "organization_id": conversation.organization_id,
                "access_source": AccessSource.ASSIGNMENT,
                "location": Location.INBOX,
                "watching": True,
                "unread": True,
                "last_activity_at": conversation.last_activity_at,
            },
        )
        ConversationEvent.objects.create(
            organization_id=conversation.organization_id,
            conversation=conversation,
            actor=acting_user,
            kind=EventKind.ASSIGNED,
            data={"target": user.display_name, "user_id": str(user.id)},
            created_at=now,
        )
    if conversation.in_team_inbox:
        conversation.in_team_inbox = False
        conversation.save(update_fields=["in_team_inbox"])


@transaction.atomic
def do_mark_conversation_read(state: ConversationState) -> None:
    if state.unread:
        state.unread = False
        state.last_read_at = timezone.now()
        state.save(update_fields=["unread", "last_read_at"])


# --- Access follows team and organization membership (signals from inboxes) ---------------------


def grant_team_access(team: Team, user_ids: Iterable[UUID]) -> None:
    """New team members see the team's conversations (not placed in their Inbox)."""
    rows = [
        ConversationState(
            organization_id=team.organization_id,
            conversation_id=conversation_id,
            user_id=user_id,
            access_source=AccessSource.TEAM,
            location=Location.NONE,
            last_activity_at=last_activity_at,
        )
        for user_id in user_ids
        for conversation_id, last_activity_at in Conversation.objects.filter(team=team).values_list(
            "id", "last_activity_at"
        )
    ]
    ConversationState.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)


def revoke_team_access(team: Team, user_ids: Iterable[UUID]) -> None:
    """Former team members lose the access they had only through the team, at once."""
    ConversationState.objects.filter(
        conversation__team=team, user_id__in=list(user_ids), access_source=AccessSource.TEAM
    ).delete()


def revoke_organization_access(organization_id: UUID, user_id: UUID) -> None:
    """A user removed from an organization loses every conversation of it, at once."""
    ConversationState.objects.filter(organization_id=organization_id, user_id=user_id).delete()
    Assignment.objects.filter(organization_id=organization_id, user_id=user_id).delete()
