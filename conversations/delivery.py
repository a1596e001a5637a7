"""Delivering incoming messages: threading, the conversation's summary, and each person's copy.

A transport (IMAP sync, the demo data, later the API and other channels) parses what arrived
into an `IncomingMessage` and hands it to `do_receive_message`, or a FETCH batch of them to
`do_receive_messages`. Both run the same steps (state machine rows 1-4, docs/state-machine.md):
what a batch needs is read in a few queries up front, every step is applied in memory in order,
and the rows are written in bulk, so a batch costs a fixed number of statements instead of a
dozen per message.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from conversations import auto_reply, live, out_of_office, search_index
from conversations.actions import new_copy, team_member_ids, waits_in_team_inbox
from conversations.counts import invalidate_counts_now_and_after_commit
from conversations.incoming import IncomingMessage
from conversations.models import (
    AccessSource,
    Assignment,
    Attachment,
    BlockedSender,
    Conversation,
    ConversationEvent,
    ConversationState,
    Direction,
    Draft,
    DraftStatus,
    EventKind,
    Location,
    Message,
    Status,
    ThreadKey,
)
from conversations.signals import messages_received
from inboxes.models import Account, AccountAccess, NewMessages
from missive.db import copy_insert, snapshot, update_changed

MAX_MESSAGES_PER_CONVERSATION = 400  # the seed's limit: past it, a new conversation starts

PREVIEW_LENGTH = 200
_WHITESPACE = re.compile(r"\s+")


def make_preview(text: str) -> str:
    # Whitespace is collapsed in a prefix only, grown until it gives the full length: the same
    # result as collapsing the whole body, which costs a regex pass over up to megabytes.
    size = PREVIEW_LENGTH * 2
    while True:
        preview = _WHITESPACE.sub(" ", text[:size]).strip()
        if len(preview) >= PREVIEW_LENGTH or size >= len(text):
            return preview[:PREVIEW_LENGTH]
        size *= 4


def recipients_for_new_conversation(account: Account) -> dict[UUID, tuple[str, str]]:
    """user id -> (location, access source) for a new conversation arriving on the account."""
    placement: dict[UUID, tuple[str, str]] = {}
    if account.delivers_to_team_inbox and account.team_id:
        for user_id in team_member_ids(account.team_id):
            placement[user_id] = (Location.NONE, AccessSource.TEAM)
    elif account.is_shared:
        for access in AccountAccess.objects.filter(account=account):
            location = Location.INBOX if access.new_messages == NewMessages.INBOX else Location.NONE
            if access.user_id:
                placement[access.user_id] = (location, AccessSource.ACCOUNT)
            elif access.team_id:
                for user_id in team_member_ids(access.team_id):
                    placement.setdefault(user_id, (location, AccessSource.TEAM))
    # The person who connected the account always has access to all of its content. A team inbox
    # delivery changes nobody's Inbox, so an owner outside the team finds it where members do.
    owner_location = Location.NONE if account.delivers_to_team_inbox else Location.INBOX
    placement.setdefault(account.owner_id, (owner_location, AccessSource.ACCOUNT))
    return placement


_CONVERSATION_FIELDS = (
    "participants",
    "preview",
    "message_count",
    "has_attachments",
    "has_outbound",
    "last_activity_at",
    "status",
    "in_team_inbox",
    "snoozed_until",
    "snooze_discard_if_reply",
    "assigned",
)
_STATE_FIELDS = (
    "location",
    "unread",
    "last_activity_at",
    "snoozed_until",
    "snooze_leave_in_inbox",
    "snooze_discard_if_reply",
    "assigned",
)


@dataclass
class Delivery:
    """One message for do_receive_messages; `message` and `created` are filled in (created is
    False when the email was already known and the existing message is returned)."""

    incoming: IncomingMessage
    seen: bool = False
    message: Message | None = None
    created: bool = False


class _Batch:
    def __init__(self, account: Account, deliveries: Sequence[Delivery], placement: str | None) -> None:
        self.account = account
        self.org_id = account.organization_id
        self.recipients = recipients_for_new_conversation(account)
        wanted: set[str] = set()
        for delivery in deliveries:
            incoming = delivery.incoming
            wanted.update(mid for mid in [incoming.rfc_message_id, incoming.in_reply_to, *incoming.references] if mid)
        # Every earlier message this batch may be a copy of or reply to, by Message-ID; the
        # messages delivered below join them as they are made.
        self.by_message_id: dict[str, list[Message]] = defaultdict(list)
        self.conversations: dict[UUID, Conversation] = {}
        found = (
            Message.objects.filter(organization_id=self.org_id, rfc_message_id__in=wanted)
            .select_related("conversation", "conversation__team")
            .defer("body_text", "body_html", "to", "cc", "references")
            if wanted
            else []
        )
        for message in found:
            message.conversation = self.conversations.setdefault(message.conversation_id, message.conversation)
            self.by_message_id[message.rfc_message_id].append(message)
        self.load_channel_keys(deliveries)
        known = list(self.conversations)
        self.states: dict[UUID, dict[UUID, ConversationState]] = defaultdict(dict)
        self.assignees: dict[UUID, set[UUID]] = defaultdict(set)
        if known:
            for state in ConversationState.objects.filter(conversation_id__in=known):
                self.states[state.conversation_id][state.user_id] = state
            for conversation_id, user_id in Assignment.objects.filter(conversation_id__in=known).values_list(
                "conversation_id", "user_id"
            ):
                self.assignees[conversation_id].add(user_id)
        self.out_of_office = out_of_office.away_among(self.org_id, set().union(*self.assignees.values()))
        self.unassigned: list[tuple[Conversation, UUID]] = []
        self.conversation_before = {cid: snapshot(c, _CONVERSATION_FIELDS) for cid, c in self.conversations.items()}
        self.state_before = {
            state.pk: snapshot(state, _STATE_FIELDS) for states in self.states.values() for state in states.values()
        }
        self.blocked_addresses: set[str] = set()
        self.blocked_domains: set[str] = set()
        if placement is None:
            senders = {d.incoming.from_address.lower() for d in deliveries if d.incoming.from_address}
            if senders:
                domains = {sender.rsplit("@", 1)[-1] for sender in senders}
                for address, domain in BlockedSender.objects.filter(
                    Q(address__in=senders) | Q(domain__in=domains),
                    Q(user__isnull=True) | Q(user_id=account.owner_id),
                    organization_id=self.org_id,
                ).values_list("address", "domain"):
                    if address:
                        self.blocked_addresses.add(address)
                    if domain:
                        self.blocked_domains.add(domain)
        self.new_conversations: list[Conversation] = []
        self.new_messages: list[Message] = []
        self.new_attachments: list[Attachment] = []
        self.new_states: list[ConversationState] = []
        self.events: list[ConversationEvent] = []
        self.touched: set[UUID] = set()

    def load_channel_keys(self, deliveries: Sequence[Delivery]) -> None:
        """Non-email channels: the messages already stored under the batch's external ids, and the
        conversations its thread keys point to. Both are locked first (transaction-scoped advisory
        locks), so two deliveries racing on one SMS pair or one retried id wait for each other
        instead of making two conversations or two messages."""
        external_ids = {d.incoming.external_id for d in deliveries if d.incoming.external_id}
        keys = {key for d in deliveries for key in d.incoming.thread_keys}
        self.by_external_id: dict[str, Message] = {}
        self.by_thread_key: dict[str, Conversation] = {}
        self.new_thread_keys: list[ThreadKey] = []
        if not external_ids and not keys:
            return
        locks = {f"id:{self.account.id}:{value}" for value in external_ids} | {f"key:{self.org_id}:{k}" for k in keys}
        with connection.cursor() as cursor:
            # One statement; taken in the order of their hashes everywhere, so two batches wanting
            # the same keys cannot deadlock.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(h) FROM"
                " (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(%s::text[]) AS k ORDER BY h) AS locks",
                [sorted(locks)],
            )
        for message in Message.objects.filter(account=self.account, external_id__in=external_ids).select_related(
            "conversation", "conversation__team"
        ):
            message.conversation = self.conversations.setdefault(message.conversation_id, message.conversation)
            self.by_external_id[message.external_id] = message
        # Oldest first, so the newest conversation holding a key wins.
        for row in (
            ThreadKey.objects.filter(organization_id=self.org_id, key__in=keys)
            .select_related("conversation", "conversation__team")
            .order_by("created_at", "id")
        ):
            self.by_thread_key[row.key] = self.conversations.setdefault(row.conversation_id, row.conversation)

    def is_blocked(self, sender: str) -> bool:
        sender = sender.lower()
        if not sender:
            return False
        return sender in self.blocked_addresses or sender.rsplit("@", 1)[-1] in self.blocked_domains

    # The steps of do_receive_message, in memory ---------------------------------------------

    def deliver(self, delivery: Delivery, placement: str | None, direction: str) -> None:
        account, incoming = self.account, delivery.incoming
        same = self.by_message_id.get(incoming.rfc_message_id) if incoming.rfc_message_id else None
        if same:  # _same_email: .first() orders by primary key
            existing = min(same, key=lambda m: m.pk)
            self.grant_access(existing.conversation, placement)
            self.touched.add(existing.conversation_id)
            delivery.message, delivery.created = existing, False
            return
        known = self.by_external_id.get(incoming.external_id) if incoming.external_id else None
        if known is not None:  # the provider or API client sent it again
            delivery.message, delivery.created = known, False
            return
        if placement is None and self.is_blocked(incoming.from_address):
            placement = Location.SPAM
        sent_at = incoming.sent_at or timezone.now()
        conversation = self.find_thread(incoming)
        is_new = conversation is None
        if conversation is None:
            conversation = self.new_conversation(incoming, sent_at, placement)
        message = self.store_message(conversation, incoming, sent_at, direction)
        self.update_summary(conversation, message, has_attachments=bool(incoming.attachments))
        if is_new:
            self.grant_access(conversation, placement, unread=direction == Direction.INBOUND)
        elif placement is None and direction == Direction.INBOUND:
            self.apply_new_message_to_existing(conversation)
        if delivery.seen or direction == Direction.OUTBOUND:
            owner_state = self.states[conversation.id].get(account.owner_id)
            if owner_state is not None:
                owner_state.unread = False
        self.touched.add(conversation.id)
        self.by_message_id[message.rfc_message_id].append(message)
        self.remember_channel_keys(conversation, message, incoming)
        delivery.message, delivery.created = message, True

    def remember_channel_keys(self, conversation: Conversation, message: Message, incoming: IncomingMessage) -> None:
        """A later message threads here by any of this one's keys, or by its external id."""
        if incoming.external_id:
            self.by_external_id[incoming.external_id] = message
        for key in {*incoming.thread_keys, incoming.external_id} - {""}:
            if self.by_thread_key.get(key) is not conversation:
                self.by_thread_key[key] = conversation
                self.new_thread_keys.append(
                    ThreadKey(organization_id=self.org_id, conversation=conversation, key=key[:500])
                )

    def find_thread(self, incoming: IncomingMessage) -> Conversation | None:
        parents = [
            m for mid in [incoming.in_reply_to, *incoming.references] if mid for m in self.by_message_id.get(mid, ())
        ]
        if not parents:
            return self.find_thread_by_key(incoming)
        parent = max(parents, key=lambda m: m.sent_at)
        if parent.conversation.message_count >= MAX_MESSAGES_PER_CONVERSATION:
            return None
        return parent.conversation

    def find_thread_by_key(self, incoming: IncomingMessage) -> Conversation | None:
        for key in incoming.thread_keys:  # first match wins
            conversation = self.by_thread_key.get(key)
            if conversation is not None and conversation.message_count < MAX_MESSAGES_PER_CONVERSATION:
                return conversation
        return None

    def new_conversation(self, incoming: IncomingMessage, sent_at: datetime, placement: str | None) -> Conversation:
        account = self.account
        team_id = account.team_id if account.delivers_to_team_inbox else None
        conversation = Conversation(
            organization_id=self.org_id,
            subject=incoming.subject,
            team_id=team_id,
            is_shared=account.is_shared,
            status=Status.CLOSED if team_id and placement == Location.ARCHIVED else Status.OPEN,
            is_spam=bool(team_id) and placement == Location.SPAM,
            created_at=sent_at,
            last_activity_at=sent_at,
        )
        self.conversations[conversation.id] = conversation
        self.new_conversations.append(conversation)
        return conversation

    def store_message(
        self, conversation: Conversation, incoming: IncomingMessage, sent_at: datetime, direction: str
    ) -> Message:
        account = self.account
        message = Message(
            organization_id=self.org_id,
            conversation=conversation,
            account=account,
            direction=direction,
            from_name=incoming.from_name[:200],
            from_address=incoming.from_address[:254],
            to=incoming.to,
            cc=incoming.cc,
            reply_to=incoming.reply_to,
            subject=incoming.subject[:500],
            body_text=incoming.body_text,
            body_html=incoming.body_html,
            rfc_message_id=incoming.rfc_message_id[:500],
            in_reply_to=incoming.in_reply_to[:500],
            references=" ".join(incoming.references),
            sent_at=sent_at,
            size=len(incoming.raw or b""),
            parse_error=incoming.parse_error,
            is_auto_reply=incoming.is_auto_reply,
            is_bulk=incoming.is_bulk,
            has_read_trackers=incoming.has_read_trackers,
            external_id=incoming.external_id[:255],
        )
        if incoming.raw_path:
            message.raw_file.name = incoming.raw_path
        elif incoming.raw is not None:
            message.raw_file.save("message.eml", ContentFile(incoming.raw), save=False)
        self.new_messages.append(message)
        for item in incoming.attachments:
            attachment = Attachment(
                organization_id=self.org_id,
                message=message,
                filename=item.filename[:255],
                content_type=item.content_type[:127],
                size=item.stored_size if item.stored_path else len(item.content),
                content_id=item.content_id[:255],
                is_inline=item.is_inline,
            )
            if item.stored_path:
                attachment.file.name = item.stored_path
            else:
                attachment.file.save(item.filename, ContentFile(item.content), save=False)
            self.new_attachments.append(attachment)
        if direction == Direction.OUTBOUND and not conversation.has_outbound:
            conversation.has_outbound = True
        return message

    def update_summary(self, conversation: Conversation, message: Message, *, has_attachments: bool) -> None:
        participant = {"name": message.from_name, "address": message.from_address}
        participants = [p for p in conversation.participants if p.get("address") != message.from_address]
        conversation.participants = [participant, *participants][:10]
        conversation.preview = make_preview(message.body_text)
        conversation.message_count += 1
        conversation.has_attachments = conversation.has_attachments or has_attachments
        conversation.last_activity_at = max(conversation.last_activity_at, message.sent_at)

    def grant_access(self, conversation: Conversation, placement: str | None, *, unread: bool = True) -> None:
        states = self.states[conversation.id]
        for user_id, (location, source) in self.recipients.items():
            if user_id in states:
                continue  # bulk_create(ignore_conflicts=True) leaves existing rows alone
            if placement in (Location.TRASHED, Location.SPAM) or (placement and location == Location.INBOX):
                location = placement
            state = new_copy(conversation, user_id, source=source, location=location, unread=unread)
            states[user_id] = state
            self.new_states.append(state)
        self.refresh_team_inbox(conversation)

    def refresh_team_inbox(self, conversation: Conversation) -> None:
        conversation.in_team_inbox = waits_in_team_inbox(conversation, assigned=bool(self.assignees[conversation.id]))

    def apply_new_message_to_existing(self, conversation: Conversation) -> None:
        out_of_office.unassign_away(self, conversation)
        assignee_ids = self.assignees[conversation.id]
        states = list(self.states[conversation.id].values())
        if conversation.status == Status.CLOSED:
            conversation.status = Status.OPEN
            self.events.append(
                ConversationEvent(
                    organization_id=conversation.organization_id,
                    conversation=conversation,
                    kind=EventKind.REOPENED,
                    data={"target": "by a new message"},
                )
            )
        if conversation.snoozed_until and conversation.snooze_discard_if_reply:
            conversation.snoozed_until = None
            conversation.snooze_discard_if_reply = False
            for state in states:
                if state.location == Location.SNOOZED:
                    state.location = Location.INBOX
                state.snoozed_until = None
                state.snooze_leave_in_inbox = state.snooze_discard_if_reply = False
            self.refresh_team_inbox(conversation)
        for state in states:
            state.unread = True
            state.last_activity_at = conversation.last_activity_at
            if state.snoozed_until is not None and state.snooze_discard_if_reply:
                state.snoozed_until = None
                state.snooze_discard_if_reply = state.snooze_leave_in_inbox = False
                state.location = Location.INBOX
        team = conversation.team if assignee_ids and conversation.team_id else None
        to_team_inbox = bool(team and team.reply_to_assigned_goes_to_team_inbox)
        inbox_users = {uid for uid, (location, _) in self.recipients.items() if location == Location.INBOX}
        if not to_team_inbox:
            inbox_users |= assignee_ids
        for state in states:
            if state.location not in (Location.NONE, Location.ARCHIVED):
                continue
            if not (state.watching or state.user_id in inbox_users):
                continue
            if to_team_inbox and state.user_id in assignee_ids:
                continue
            state.location = Location.INBOX
        if to_team_inbox:
            conversation.in_team_inbox = True
        else:
            self.refresh_team_inbox(conversation)

    # Writing --------------------------------------------------------------------------------

    def discard_follow_ups(self) -> None:
        """A reply arrived: scheduled drafts set to "Discard draft if someone replies" (automatic
        follow-ups) are discarded before beat sends them."""
        replied = {m.conversation_id for m in self.new_messages if m.direction == Direction.INBOUND}
        if replied:
            Draft.objects.filter(
                conversation_id__in=replied, status=DraftStatus.SCHEDULED, discard_if_reply=True
            ).update(status=DraftStatus.DISCARDED, discarded_at=timezone.now())

    def write(self) -> None:
        copy_insert(Conversation, self.new_conversations)
        copy_insert(Message, self.new_messages)
        copy_insert(Attachment, self.new_attachments)
        ThreadKey.objects.bulk_create(self.new_thread_keys, ignore_conflicts=True)
        ConversationState.objects.bulk_create(self.new_states, ignore_conflicts=True)
        update_changed(Conversation, self.conversations.values(), self.conversation_before, _CONVERSATION_FIELDS)
        states = [state for states in self.states.values() for state in states.values()]
        update_changed(ConversationState, states, self.state_before, _STATE_FIELDS)
        out_of_office.write_unassignments(self)
        copy_insert(ConversationEvent, self.events)
        search_index.queue(self.org_id, (message.conversation_id for message in self.new_messages))
        self.discard_follow_ups()
        user_ids = [user_id for cid in self.touched for user_id in self.states[cid]]
        if user_ids:
            invalidate_counts_now_and_after_commit(user_ids)
        # One notice per person for the whole batch, about their own conversations.
        live.notify_after_commit(((uid, cid) for cid in self.touched for uid in self.states[cid]), kind="message")


@transaction.atomic
def do_receive_messages(
    account: Account,
    deliveries: Sequence[Delivery],
    *,
    placement: str | None = None,
    direction: str = Direction.INBOUND,
) -> None:
    """do_receive_message for each delivery in order (same placement and direction for all, as
    the messages of one folder have), in a fixed number of queries."""
    batch = _Batch(account, deliveries, placement)
    for delivery in deliveries:
        batch.deliver(delivery, placement, direction)
    batch.write()
    if direction == Direction.INBOUND:
        # Incoming rules, before commit: what they change is what people are notified of.
        received = [(d.message, d.created) for d in deliveries if d.message is not None]
        messages_received.send(Account, account=account, messages=received, placement=placement)
    if placement is None and direction == Direction.INBOUND:
        auto_reply.queue(account, batch.new_messages)


def do_receive_message(
    account: Account,
    incoming: IncomingMessage,
    *,
    placement: str | None = None,
    direction: str = Direction.INBOUND,
    seen: bool = False,
) -> Message:
    """Store a message that reached an account, threading it, and move per-user state as the
    state machine says.

    `placement` files it elsewhere than the Inbox (mail the server keeps in Archive, Trash or
    Spam); `seen` is the server's read flag, which stands for the account owner's read state.
    The same email (by Message-ID) reaching a second account of the organization joins the
    existing message instead of making a second one, which is returned.
    """
    delivery = Delivery(incoming, seen=seen)
    do_receive_messages(account, [delivery], placement=placement, direction=direction)
    assert delivery.message is not None
    return delivery.message
