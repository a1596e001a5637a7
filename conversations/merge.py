"""Merging two conversations into one, and moving an email out to a conversation of its own
(seed: Merging, L7844-7957; docs/state-machine.md rows 15 and 16).

A merge moves everything of the source into the target in one transaction and deletes the
source, leaving a ConversationRedirect so that its old address opens the target. Both
conversation rows are locked first, in id order, so two merges touching the same conversations
wait for each other instead of deadlocking, and a second merge of an already merged source is
refused. Anything written to the source meanwhile (a delivery, a comment) waits on that lock and
then fails on the deleted row, so it is retried against the target rather than lost.
"""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.utils import timezone

from conversations import search_index
from conversations.actions import ActionRefused, _counts_changed, _event, refresh_team_inbox
from conversations.delivery import MAX_MESSAGES_PER_CONVERSATION, make_preview
from conversations.models import (
    ROOM_KINDS,
    AccessSource,
    Assignment,
    Attachment,
    Conversation,
    ConversationLabel,
    ConversationRedirect,
    ConversationState,
    Direction,
    EventKind,
    Location,
    Message,
    SearchBacklog,
    SearchDocument,
    Status,
)
from inboxes.models import Membership, Role, User

# Past this on both sides a merge is refused (seed: "Both conversations have 400+ messages").
MERGE_LIMIT = MAX_MESSAGES_PER_CONVERSATION
PARTICIPANTS_SHOWN = 10  # as delivery keeps them

# Rows of these models are merged field by field below; rows of every other model pointing at
# a conversation (messages, comments, events, redirects, and whatever later work adds: drafts,
# tasks, activity items) simply move to the target.
_MERGED_BY_HAND = {ConversationState, Assignment, ConversationLabel, SearchDocument, SearchBacklog}

# How much a placement keeps the conversation in front of its user: a merged copy takes the
# placement of whichever of the two copies was more in front (a source waiting in someone's
# Inbox keeps the merged conversation there, even if they had archived the target).
_PRESENCE: list[str] = [
    Location.SPAM,
    Location.TRASHED,
    Location.NONE,
    Location.ARCHIVED,
    Location.SNOOZED,
    Location.INBOX,
]
# Where a person keeps their copy of a conversation (a merge or a copy elsewhere carries these over).
PLACEMENT_FIELDS = [
    "location",
    "location_before_trash",
    "snoozed_until",
    "snooze_leave_in_inbox",
    "snooze_discard_if_reply",
    "snooze_due",
]
_FLAGS = ["unread", "watching", "starred", "pinned"]
SUMMARY_FIELDS = ["participants", "preview", "message_count", "has_attachments", "has_outbound", "last_activity_at"]


class SubjectChoice(models.TextChoices):
    AUTO = "auto", "Automatic"
    TARGET = "target", "Target's subject"
    SOURCE = "source", "Source's subject"
    NEW = "new", "New subject"


# --- What a merge would do, and whether it may ------------------------------------------------


def refusal(source: Conversation, target: Conversation, *, acting_user: User | None) -> str:
    """Why these two cannot be merged (by this user), or "" when they can."""
    if source.id == target.id:
        return "A conversation cannot be merged into itself."
    if source.organization_id != target.organization_id:
        return "Conversations of different organizations cannot be merged."
    if source.is_room or target.is_room:
        return "Chat rooms cannot be merged."
    if acting_user is not None:
        role = (
            Membership.objects.filter(organization_id=target.organization_id, user=acting_user)
            .values_list("role", flat=True)
            .first()
        )
        if (
            role is None
            or ConversationState.objects.filter(conversation_id__in=[source.id, target.id], user=acting_user).count()
            < 2
        ):
            return "You do not have access to both conversations."
        if role == Role.GUEST:
            return "Guests cannot merge conversations."
    counts = Message.objects.filter(conversation_id__in=[source.id, target.id]).values("conversation_id")
    sizes = dict(counts.annotate(n=models.Count("id")).values_list("conversation_id", "n"))
    if min(sizes.get(source.id, 0), sizes.get(target.id, 0)) >= MERGE_LIMIT:
        return f"Both conversations have {MERGE_LIMIT} messages or more: they cannot be merged."
    return ""


def _is_shared(conversation: Conversation) -> bool:
    """Shared: on a shared account or team, or more than one person has access (spec: derived)."""
    return conversation.is_shared or ConversationState.objects.filter(conversation=conversation).count() > 1


def automatic_subject(source: Conversation, target: Conversation) -> tuple[str, bool]:
    """The subject the seed's rules keep, and whether it is a custom one.

    A custom (renamed) subject beats an email's; of two custom ones the shared conversation's
    wins over a private one's, else the target's; with none, the most recent email's subject."""
    if source.subject_is_custom and target.subject_is_custom:
        source_shared, target_shared = _is_shared(source), _is_shared(target)
        winner = source if source_shared and not target_shared else target
        return winner.subject, True
    if source.subject_is_custom or target.subject_is_custom:
        return (source if source.subject_is_custom else target).subject, True
    latest = (
        Message.objects.filter(conversation_id__in=[source.id, target.id])
        .exclude(subject="")
        .order_by("-sent_at")
        .values_list("subject", flat=True)
        .first()
    )
    return latest or target.subject or source.subject, False


def chosen_subject(source: Conversation, target: Conversation, choice: str, new_subject: str = "") -> tuple[str, bool]:
    """The subject picked in the dialog (or the automatic one), and whether it is custom."""
    if choice == SubjectChoice.NEW:
        subject = " ".join(new_subject.split())[:500]
        if not subject:
            raise ActionRefused("Type the new subject, or pick one of the others.")
        return subject, True
    if choice == SubjectChoice.TARGET:
        return target.subject, target.subject_is_custom
    if choice == SubjectChoice.SOURCE:
        return source.subject, source.subject_is_custom
    return automatic_subject(source, target)


# --- Merge -------------------------------------------------------------------------------------


def _lock(ids: list[UUID]) -> dict[UUID, Conversation]:
    """Lock conversation rows in id order: concurrent merges over the same rows queue up."""
    return {c.id: c for c in Conversation.objects.select_for_update().filter(id__in=ids).order_by("id")}


@transaction.atomic
def do_merge_conversations(
    source: Conversation,
    target: Conversation,
    *,
    acting_user: User | None,
    subject_choice: str = SubjectChoice.AUTO,
    new_subject: str = "",
) -> Conversation:
    """Merge `source` into `target` and return the target. It cannot be undone.

    The target gets the messages, comments and events (the timeline sorts them by time), the
    union of labels and assignees, access for everyone who had either, and the subject the
    dialog or the rules pick; the source becomes a redirect. `acting_user` None is a rule."""
    if source.id == target.id:
        raise ActionRefused("A conversation cannot be merged into itself.")
    locked = _lock([source.id, target.id])
    if len(locked) < 2:
        raise ActionRefused("That conversation was merged or deleted meanwhile.")
    source, target = locked[source.id], locked[target.id]
    reason = refusal(source, target, acting_user=acting_user)
    if reason:
        raise ActionRefused(reason)
    subject, custom = chosen_subject(source, target, subject_choice, new_subject)

    _merge_states(source, target)
    _merge_assignments(source, target)
    _merge_labels(source, target)
    _move_rows(source, target)
    ConversationRedirect.objects.create(old_id=source.id, organization_id=target.organization_id, conversation=target)

    target.subject, target.subject_is_custom = subject, custom
    # Open work stays open: a closed target merged with an open source reopens.
    if source.status == Status.OPEN:
        target.status = Status.OPEN
    target.team_id = target.team_id or source.team_id
    # The target now has everyone's copy: more than one person on either side is more than one here.
    target.is_shared = source.is_shared or _is_shared(target)
    target.save(update_fields=["subject", "subject_is_custom", "status", "team", "is_shared"])
    refresh_summary(target)
    refresh_team_inbox(target)
    _event(target, EventKind.MERGED, acting_user, target=f"“{source.display_subject}”", source_id=str(source.id))
    # The source's search document goes with it; the target's is rebuilt from its new rows.
    search_index.queue(target.organization_id, [target.id])
    _counts_changed(target)
    source.delete()
    return target


@transaction.atomic
def do_merge_many(conversations: list[Conversation], *, acting_user: User, new_subject: str = "") -> Conversation:
    """Batch merge: every conversation into the first one selected, all or nothing."""
    if len({c.id for c in conversations}) < 2:
        raise ActionRefused("Select at least two conversations to merge.")
    _lock([c.id for c in conversations])
    choice = SubjectChoice.NEW if new_subject.strip() else SubjectChoice.AUTO
    target, *sources = conversations
    for source in sources:
        target = do_merge_conversations(
            source, target, acting_user=acting_user, subject_choice=choice, new_subject=new_subject
        )
    return target


def _merge_states(source: Conversation, target: Conversation) -> None:
    """Access becomes the union. Someone with a copy of both keeps the target's copy, with the
    more present placement of the two and each flag (unread, watching...) if either had it."""
    kept = {s.user_id: s for s in ConversationState.objects.select_for_update().filter(conversation=target)}
    moving, merged, dropped = [], [], []
    for state in ConversationState.objects.select_for_update().filter(conversation=source).order_by("id"):
        mine = kept.get(state.user_id)
        if mine is None:
            moving.append(state.id)
            continue
        if _PRESENCE.index(state.location) > _PRESENCE.index(mine.location):
            for name in PLACEMENT_FIELDS:
                setattr(mine, name, getattr(state, name))
        for name in _FLAGS:
            setattr(mine, name, getattr(mine, name) or getattr(state, name))
        mine.last_read_at = max(filter(None, [mine.last_read_at, state.last_read_at]), default=None)
        merged.append(mine)
        dropped.append(state.id)
    ConversationState.objects.filter(id__in=dropped).delete()
    ConversationState.objects.bulk_update(merged, [*PLACEMENT_FIELDS, *_FLAGS, "last_read_at"])
    # The database trigger recomputes the moved rows' copies of the conversation's status.
    ConversationState.objects.filter(id__in=moving).update(conversation=target)


def _merge_assignments(source: Conversation, target: Conversation) -> None:
    """Assignees are the union; every assignee watches it and sees it as assigned."""
    assigned = Assignment.objects.filter(conversation=target).values("user_id")
    Assignment.objects.filter(conversation=source, user_id__in=assigned).delete()
    Assignment.objects.filter(conversation=source).update(conversation=target)
    ConversationState.objects.filter(conversation=target).update(
        assigned=Exists(Assignment.objects.filter(conversation=target, user_id=OuterRef("user_id")))
    )
    ConversationState.objects.filter(conversation=target, assigned=True).update(watching=True)


def _merge_labels(source: Conversation, target: Conversation) -> None:
    labelled = ConversationLabel.objects.filter(conversation=target).values("label_id")
    ConversationLabel.objects.filter(conversation=source, label_id__in=labelled).delete()
    ConversationLabel.objects.filter(conversation=source).update(conversation=target)


def _move_rows(source: Conversation, target: Conversation) -> None:
    """Every other row pointing at the source now points at the target. Hidden relations
    (`related_name="+"`, such as Activity feed items) count too."""
    for relation in Conversation._meta.get_fields(include_hidden=True):
        model = relation.related_model
        if not (isinstance(relation, ForeignObjectRel) and relation.one_to_many) or model in _MERGED_BY_HAND:
            continue
        name = relation.field.name
        model._base_manager.filter(**{name: source}).update(**{name: target})  # type: ignore[union-attr]


def refresh_summary(conversation: Conversation, *, now: datetime | None = None) -> None:
    """Recompute what the list shows of a conversation from its messages, after messages came
    or went other than by delivery. It counts as activity: it rises in everyone's list."""
    now = now or timezone.now()
    messages = Message.objects.filter(conversation=conversation)
    senders = messages.order_by("-sent_at", "-created_at").values_list("from_name", "from_address")
    participants: list[dict[str, str]] = []
    for name, address in senders:
        if all(p["address"] != address for p in participants):
            participants.append({"name": name, "address": address})
        if len(participants) == PARTICIPANTS_SHOWN:
            break
    latest = messages.order_by("-sent_at", "-created_at").values_list("body_text", flat=True).first()
    conversation.participants = participants
    conversation.preview = make_preview(latest or "")
    conversation.message_count = messages.count()
    conversation.has_attachments = Attachment.objects.filter(message__conversation=conversation).exists()
    conversation.has_outbound = messages.filter(direction=Direction.OUTBOUND).exists()
    conversation.last_activity_at = now
    conversation.save(update_fields=SUMMARY_FIELDS)
    ConversationState.objects.filter(conversation=conversation).update(last_activity_at=now)


# --- Redirects ---------------------------------------------------------------------------------


def merged_into(user: User, conversation_id: UUID) -> UUID | None:
    """The conversation a merged one now lives in, if this user can open it."""
    return (
        ConversationRedirect.objects.filter(old_id=conversation_id, conversation__states__user=user)
        .values_list("conversation_id", flat=True)
        .first()
    )


# --- Moving an email out -----------------------------------------------------------------------


@transaction.atomic
def do_move_message_out(message: Message, *, acting_user: User, shared: bool = True) -> Conversation:
    """Move email to... New shared / private conversation: the email (with its attachments)
    becomes a conversation of its own, which can be merged again later. A shared one keeps the
    team and everyone's access and placement; a private one is only the mover's. Comments cannot
    be moved out (seed), only emails."""
    current = Message.objects.filter(id=message.id).values_list("conversation_id", flat=True).first()
    source = _lock([current]).get(current) if current else None
    locked = Message.objects.select_for_update().filter(id=message.id).first()
    if source is None or locked is None or locked.conversation_id != source.id:
        raise ActionRefused("That email was moved or deleted meanwhile: try again.")
    message = locked
    mine = ConversationState.objects.filter(conversation=source, user=acting_user).first()
    if mine is None:
        raise ActionRefused("You do not have access to this conversation.")
    if Message.objects.filter(conversation=source).count() < 2:
        raise ActionRefused("This is the conversation's only email: there is nothing to split off.")
    now = timezone.now()
    moved = Conversation.objects.create(
        organization_id=source.organization_id,
        kind=source.kind,
        subject=message.subject or source.subject,
        team_id=source.team_id if shared else None,
        is_shared=shared and _is_shared(source),
        is_spam=shared and source.is_spam,
        status=source.status if shared else Status.OPEN,
        created_at=now,
        last_activity_at=now,
    )
    copies = ConversationState.objects.filter(conversation=source) if shared else [mine]
    ConversationState.objects.bulk_create(
        ConversationState(
            organization_id=source.organization_id,
            conversation=moved,
            user_id=state.user_id,
            access_source=state.access_source if shared else AccessSource.CREATOR,
            unread=state.unread and state.user_id != acting_user.id,
            watching=state.watching or state.user_id == acting_user.id,
            last_activity_at=now,
            **{name: getattr(state, name) for name in PLACEMENT_FIELDS},
        )
        for state in copies
    )
    message.conversation = moved
    message.save(update_fields=["conversation"])
    refresh_summary(moved, now=now)
    refresh_summary(source, now=now)
    refresh_team_inbox(moved)
    # Each event links to the other conversation.
    out, back = f"“{moved.display_subject}”", f"“{source.display_subject}”"
    _event(source, EventKind.EMAIL_MOVED_OUT, acting_user, target=out, conversation_id=str(moved.id))
    _event(moved, EventKind.EMAIL_MOVED_IN, acting_user, target=back, conversation_id=str(source.id))
    search_index.queue(source.organization_id, [source.id, moved.id])
    _counts_changed(source)
    _counts_changed(moved)
    return moved


# --- Finding the other conversation ------------------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
CANDIDATES_SHOWN = 8


def merge_candidates(user: User, conversation: Conversation, typed: str) -> list[ConversationState]:
    """Conversations of the same organization the user can open that could merge with this one:
    a pasted link (or id) finds its conversation, words find subjects; most recent first."""
    states = (
        ConversationState.objects.filter(user=user, conversation__organization_id=conversation.organization_id)
        .exclude(conversation=conversation)
        .exclude(conversation__kind__in=ROOM_KINDS)
        .select_related("conversation")
    )
    typed = typed.strip()
    found = _UUID.findall(typed)
    if found:
        ids = [found[-1]]
        ids += ConversationRedirect.objects.filter(old_id=found[-1]).values_list("conversation_id", flat=True)
        states = states.filter(conversation_id__in=ids)
    elif typed:
        states = states.filter(Q(conversation__subject__icontains=typed) | Q(conversation__preview__icontains=typed))
    return list(states.order_by("-last_activity_at", "-id")[:CANDIDATES_SHOWN])
