"""A text to several numbers: one message per number, each in the conversation of its own pair of
numbers.

The seed (SMS FAQ): "a separate message will be sent to each recipient", and group texts do not
exist. So when a draft is sent to several numbers, the message written by do_send_draft keeps one
recipient (the one whose pair this conversation already is, else the first one) and every other
number gets a copy of it: in the conversation its pair key already threads to, else in a new
conversation that the same people see as the draft's. Each copy has its own outbox row, so its own
Twilio id, delivery status and failure. The copies share the original's Message-ID, which means
nothing on SMS: it is what lets Undo send recall them together (do_undo_send).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models
from django.db.models.fields.files import FieldFile

from conversations.actions import new_copy
from conversations.merge import PLACEMENT_FIELDS
from conversations.models import (
    Attachment,
    Conversation,
    ConversationState,
    Message,
    OutboxMessage,
    ThreadKey,
)
from conversations.sending import Recipients, _everyone_sees_it, _queue_after_commit, _update_summary

Row = TypeVar("Row", bound=models.Model)


@dataclass
class Original:
    """What every copy is made from, read once (a text may go to a hundred numbers): the message
    as sent, its attachment rows, and the people's copies (states) of its conversation."""

    message: Message
    conversation: Conversation
    attachments: list[Attachment]
    states: list[ConversationState]


def fan_out(message: Message, outbox: OutboxMessage, *, keys: dict[str, str]) -> list[Message]:
    """Leave `message` to one number and copy it to each other one (`keys`: number → pair key, in
    recipient order); the copies, written with their outbox rows."""
    conversation = message.conversation
    own_keys = ThreadKey.objects.filter(conversation=conversation, key__in=keys.values())
    owned = set(own_keys.values_list("key", flat=True))
    people = [*message.to, *message.cc, *message.bcc]
    kept = next((p for p in people if keys[p["address"]] in owned), people[0])
    ThreadKey.objects.get_or_create(
        organization_id=message.organization_id, conversation=conversation, key=keys[kept["address"]]
    )
    others = [person for person in people if person != kept]
    if not others:
        return []
    message.to, message.cc, message.bcc = [kept], [], []
    message.save(update_fields=["to", "cc", "bcc"])
    Conversation.objects.filter(id=conversation.id).update(participants=[kept])
    original = Original(
        message=Message.objects.get(id=message.id),
        conversation=conversation,
        attachments=list(Attachment.objects.filter(message=message)),
        states=list(ConversationState.objects.filter(conversation=conversation)),
    )
    return [_copy_to(original, outbox, person, keys[person["address"]]) for person in others]


def _row_copy(row: Row, **changes: Any) -> Row:
    """A new, unsaved row (its own primary key) with `row`'s column values but `changes`; a file
    column names the same stored file."""
    values = {}
    for field in row._meta.concrete_fields:
        if field.primary_key or field.name in changes:
            continue
        value = getattr(row, field.attname)
        values[field.attname] = value.name if isinstance(value, FieldFile) else value
    return type(row)(**{**values, **changes})


def _copy_to(original: Original, outbox: OutboxMessage, person: dict, key: str) -> Message:
    conversation = _pair_conversation(original, key)
    copy = _row_copy(original.message, conversation=conversation, to=[person], cc=[], bcc=[])
    copy.save(force_insert=True)
    # The stored files are shared, only the rows are new.
    Attachment.objects.bulk_create([_row_copy(attachment, message=copy) for attachment in original.attachments])
    copied = OutboxMessage.objects.create(
        organization_id=outbox.organization_id,
        message=copy,
        account=outbox.account,
        status=outbox.status,  # an outgoing rule that stopped the text stopped it for everyone
        last_error=outbox.last_error,
        send_after=outbox.send_after,
    )
    recipients = Recipients([person], [], [])
    _update_summary(conversation, copy, recipients, has_attachments=bool(original.attachments), subject="")
    _everyone_sees_it(conversation)
    _queue_after_commit(copied)
    return copy


def _pair_conversation(original: Original, key: str) -> Conversation:
    """The conversation the pair key threads to (the newest, as delivery picks), with the sender's
    access; else a new one that the draft's people see as they see the draft's conversation."""
    source = original.conversation
    found = (
        ThreadKey.objects.filter(organization_id=source.organization_id, key=key)
        .exclude(conversation=source)
        .order_by("-created_at")
        .select_related("conversation")
        .first()
    )
    if found is not None:
        conversation = found.conversation
        having = set(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
        ConversationState.objects.bulk_create(
            [_state_copy(state, conversation) for state in original.states if state.user_id not in having]
        )
        return conversation
    conversation = Conversation.objects.create(
        organization_id=source.organization_id,
        kind=source.kind,
        status=source.status,
        team=source.team,
        is_shared=source.is_shared,
        snoozed_until=source.snoozed_until,
        created_at=source.created_at,
        last_activity_at=source.last_activity_at,
    )
    ConversationState.objects.bulk_create([_state_copy(state, conversation) for state in original.states])
    ThreadKey.objects.create(organization_id=source.organization_id, conversation=conversation, key=key)
    return conversation


def _state_copy(state: ConversationState, conversation: Conversation) -> ConversationState:
    """The person's copy of the draft's conversation, as a copy of `conversation`: same access,
    same place (Inbox, snoozed, ...), same watching."""
    copy = new_copy(conversation, state.user_id, source=state.access_source, watching=state.watching)
    for name in PLACEMENT_FIELDS:
        setattr(copy, name, getattr(state, name))
    return copy
