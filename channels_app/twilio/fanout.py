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

import uuid

from conversations.models import (
    Attachment,
    Conversation,
    ConversationState,
    Message,
    OutboxMessage,
    ThreadKey,
)
from conversations.sending import Recipients, _everyone_sees_it, _queue_after_commit, _update_summary


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
    if len(people) > 1:
        message.to, message.cc, message.bcc = [kept], [], []
        message.save(update_fields=["to", "cc", "bcc"])
        Conversation.objects.filter(id=conversation.id).update(participants=[kept])
    return [_copy_to(message, outbox, person, keys[person["address"]]) for person in people if person != kept]


def _copy_to(message: Message, outbox: OutboxMessage, person: dict, key: str) -> Message:
    original = message.conversation
    conversation = _pair_conversation(original, key)
    copy = Message.objects.get(id=message.id)
    copy.id, copy.conversation, copy.to, copy.cc, copy.bcc = uuid.uuid4(), conversation, [person], [], []
    copy._state.adding = True
    copy.save(force_insert=True)
    attachments = list(Attachment.objects.filter(message=message))
    for attachment in attachments:
        attachment.pk, attachment.message = None, copy
        attachment._state.adding = True
    Attachment.objects.bulk_create(attachments)  # the stored files are shared, only the rows are new
    copied = OutboxMessage.objects.create(
        organization_id=outbox.organization_id,
        message=copy,
        account=outbox.account,
        status=outbox.status,  # an outgoing rule that stopped the text stopped it for everyone
        last_error=outbox.last_error,
        send_after=outbox.send_after,
    )
    _update_summary(conversation, copy, Recipients([person], [], []), has_attachments=bool(attachments), subject="")
    _everyone_sees_it(conversation)
    _queue_after_commit(copied)
    return copy


def _pair_conversation(original: Conversation, key: str) -> Conversation:
    """The conversation the pair key threads to (the newest, as delivery picks), with the sender's
    access; else a new one that the draft's people see as they see the draft's conversation."""
    found = (
        ThreadKey.objects.filter(organization_id=original.organization_id, key=key)
        .exclude(conversation=original)
        .order_by("-created_at")
        .select_related("conversation")
        .first()
    )
    states = list(ConversationState.objects.filter(conversation=original))
    if found is not None:
        conversation = found.conversation
        having = set(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
        ConversationState.objects.bulk_create(
            [_state_copy(state, conversation) for state in states if state.user_id not in having]
        )
        return conversation
    conversation = Conversation.objects.create(
        organization_id=original.organization_id,
        kind=original.kind,
        status=original.status,
        team=original.team,
        is_shared=original.is_shared,
        snoozed_until=original.snoozed_until,
        created_at=original.created_at,
        last_activity_at=original.last_activity_at,
    )
    ConversationState.objects.bulk_create([_state_copy(state, conversation) for state in states])
    ThreadKey.objects.create(organization_id=original.organization_id, conversation=conversation, key=key)
    return conversation


def _state_copy(state: ConversationState, conversation: Conversation) -> ConversationState:
    return ConversationState(
        organization_id=state.organization_id,
        conversation=conversation,
        user_id=state.user_id,
        access_source=state.access_source,
        location=state.location,
        watching=state.watching,
        snoozed_until=state.snoozed_until,
        snooze_leave_in_inbox=state.snooze_leave_in_inbox,
        last_activity_at=conversation.last_activity_at,
    )
