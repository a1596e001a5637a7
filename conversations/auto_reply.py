"""The personal auto-responder: while someone is Out of office, email reaching the personal
aliases they chose gets an automatic reply, sent like any reply (a draft through
conversations.sending, so it goes through the outbox and shows in the same conversation).

At most one reply per 24 hours per (alias address, sender address) pair, across conversations
(the seed): AutoReplyLog is claimed with one INSERT … ON CONFLICT DO UPDATE … WHERE, so of two
deliveries racing for the same pair only one gets the row back. The claim is in the sending
transaction: a reply that cannot be sent leaves the pair free.

It runs after the delivery commits (a Celery task with message ids), so a failure here never
loses the inbound message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone
from django.utils.html import linebreaks

from conversations import templating
from conversations.actions import ActionRefused
from conversations.models import (
    AutoReplyLog,
    ConversationState,
    Direction,
    Draft,
    DraftKind,
    Location,
    Message,
    SignatureChoice,
)
from inboxes.aliases import EMAIL_KINDS
from inboxes.models import Account, Alias, AutoResponderAlias, Membership, User
from inboxes.status import out_of_office_active_q

logger = logging.getLogger(__name__)

THROTTLE = timedelta(hours=24)
# Mail older than this when it is delivered is history being synced, not mail to answer.
FRESH_FOR = timedelta(hours=24)
_ROBOTS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply", "bounce")


def is_robot(address: str) -> bool:
    local = address.partition("@")[0].lower()
    return local.startswith(_ROBOTS)


def may_be_answered(message: Message, now: datetime) -> bool:
    """What the message alone says: an inbound email from a person, fresh, not automated or bulk."""
    return (
        message.direction == Direction.INBOUND
        and not message.is_auto_reply
        and not message.is_bulk
        and bool(message.from_address)
        and not is_robot(message.from_address)
        and message.sent_at >= now - FRESH_FOR
    )


def queue(account: Account, messages: Iterable[Message]) -> None:
    """In the delivery's transaction: answer these after commit, if any may be. No query."""
    if account.is_shared or account.kind not in EMAIL_KINDS:
        return
    now = timezone.now()
    ids = [message.id for message in messages if may_be_answered(message, now)]
    if ids:
        transaction.on_commit(lambda: _kick(ids))


def _kick(message_ids: list[UUID]) -> None:
    from conversations.tasks import send_auto_replies

    send_auto_replies.delay([str(message_id) for message_id in message_ids])


def do_send_auto_replies(message_ids: Sequence[UUID | str]) -> int:
    """Answer each message that should be, each in its own transaction; returns how many."""
    sent = 0
    for message in Message.objects.filter(id__in=message_ids).select_related("account", "conversation"):
        try:
            sent += do_auto_reply(message) is not None
        except (ActionRefused, templating.TemplateProblem) as problem:
            logger.warning("Auto-response to %s not sent: %s", message.id, problem)
    return sent


def _answering_alias(message: Message, chosen: list[Alias]) -> Alias | None:
    """The chosen alias the email was addressed to; else the account's own address when chosen
    (Bcc, forwarding)."""
    addressed = {(person.get("address") or "").lower() for person in [*message.to, *message.cc]}
    for alias in chosen:
        if alias.address.lower() in addressed:
            return alias
    return next((alias for alias in chosen if alias.is_default), None)


def _claim(organization_id: UUID, alias_address: str, sender: str, now: datetime) -> bool:
    """Take the pair's turn, atomically: True when no reply went to it within THROTTLE."""
    table = AutoReplyLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (organization_id, alias_address, sender_address, last_sent_at)
            VALUES (%s, %s, %s, %s)
            ON CONFLICT (organization_id, alias_address, sender_address)
            DO UPDATE SET last_sent_at = EXCLUDED.last_sent_at WHERE {table}.last_sent_at <= %s
            RETURNING id
            """,  # noqa: S608 - the model's own table
            [organization_id, alias_address, sender, now, now - THROTTLE],
        )
        return cursor.fetchone() is not None


def _subject(configured: str, original: str, context: dict) -> str:
    if configured.strip():
        return templating.render(configured, context).strip()
    # An empty subject answers in the thread, so it never renames the conversation (the seed).
    original = original.strip()
    return original if original.lower().startswith("re:") else f"Re: {original}".strip()


def do_auto_reply(message: Message, *, now: datetime | None = None) -> Message | None:
    """Send the Out of office reply to one inbound email if it should get one; the reply, or
    None. Raises ActionRefused or TemplateProblem when it should but cannot be sent."""
    from conversations.sending import do_send_draft  # sending imports delivery, which queues here

    now = now or timezone.now()
    account = message.account
    if account is None or account.is_shared or account.kind not in EMAIL_KINDS:
        return None  # shared inboxes never send Out of office replies
    if not may_be_answered(message, now):
        return None
    membership = (
        Membership.objects.filter(
            out_of_office_active_q(now),
            organization_id=message.organization_id,
            user_id=account.owner_id,
            auto_responder_enabled=True,
        )
        .select_related("user")
        .first()
    )
    if membership is None:
        return None
    owner: User = membership.user
    chosen = list(
        Alias.objects.filter(
            account=account,
            id__in=AutoResponderAlias.objects.filter(user=owner).values("alias_id"),
        )
    )
    alias = _answering_alias(message, chosen)
    if alias is None:
        return None
    if ConversationState.objects.filter(
        conversation_id=message.conversation_id, user=owner, location__in=[Location.SPAM, Location.TRASHED]
    ).exists():
        return None  # a blocked sender's mail, or mail the owner threw away
    sender = message.from_address.strip().lower()
    own = {a.lower() for a in Alias.objects.filter(account__owner=owner).values_list("address", flat=True)}
    if sender in own or sender == owner.email.lower():
        return None
    recipient = {"name": message.from_name, "address": sender}
    context = {
        "user": templating.user_variables(owner, membership),
        "recipient": templating.recipient_variables([recipient]),
        "conversation": {"id": str(message.conversation_id)},
        "message": templating.message_variables(
            message_id=message.id, from_name=message.from_name, from_address=message.from_address
        ),
    }
    subject = _subject(membership.auto_responder_subject, message.subject, context)
    body_html = linebreaks(templating.render(membership.auto_responder_body, context), autoescape=True)
    with transaction.atomic():
        if not _claim(message.organization_id, alias.address.lower(), sender, now):
            return None
        was_unread = list(
            ConversationState.objects.filter(conversation_id=message.conversation_id, user=owner, unread=True)
        )
        draft = Draft.objects.create(
            organization_id=message.organization_id,
            conversation_id=message.conversation_id,
            kind=DraftKind.REPLY,
            replying_to=message,
            creator=owner,
            updated_by=owner,
            account=account,
            alias=alias,
            to=[recipient],
            subject=subject,
            body_html=body_html,
            signature_choice=SignatureChoice.NONE,
        )
        reply = do_send_draft(draft, acting_user=owner, delay_seconds=0, automatic=True)
        # Sending marks the conversation read for its author; the away owner has not read it.
        ConversationState.objects.filter(id__in=[state.id for state in was_unread]).update(unread=True)
    return reply
