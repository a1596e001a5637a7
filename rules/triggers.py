"""From what happened to a trigger description and a rule pass.

Incoming messages: delivery sends `messages_received` inside its transaction, after the rows are
written and before commit, and the rules run right there. That is the design that guarantees
both promises at once:
- no notification for a message a rule archives or trashes: delivery's notices (live events,
  sidebar counts, push) are all sent after commit, so they see the state the rules left;
- exactly once: each rule's RuleRun row (unique per rule and "msg:<message>:acct:<account>") is
  written in the same transaction as the message. If delivery rolls back, the runs go with it
  and the retried delivery runs the rules again, once; if it commits, a re-delivery of the same
  email (same Message-ID) to the same account finds the runs and skips those rules. Each rule
  runs in a savepoint, and nothing a rule does can raise out of here into the delivery.
Network actions are queued after commit (contract 1), never inside the transaction.

Outgoing messages run the same way inside do_send_draft's transaction ("out:<message>"), so a
Prevent delivery cancels the outbox row before the dispatcher can see it.

User actions (labels, comments, close, reopen, assignee, team) arrive after commit from a real
person only, and run in a transaction of their own.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction

from conversations.models import Conversation, Direction, Location, Message
from inboxes.models import Account, User
from rules.engine import PassResult, TriggerEvent, enabled_rules, run_rules
from rules.models import Channel, Rule, TimerKind, Trigger

logger = logging.getLogger(__name__)


def channel_of(account: Account | None) -> str:
    kind = getattr(account, "kind", "") or ""
    if kind == "twilio_sms":
        return Channel.SMS
    return kind if kind in Channel.values else Channel.EMAIL


def _safely(event: TriggerEvent, candidates: list[Rule] | None = None) -> PassResult:
    try:
        with transaction.atomic():
            return run_rules(event, candidates)
    except Exception:  # rules never break what triggered them
        logger.exception("Rules failed on %s", event.trigger_key)
        return PassResult()


def incoming(account: Account, messages: list[tuple[Message, bool]], placement: str | None) -> list[PassResult]:
    """Each inbound message that reached this account (once per receiving account); mail filed
    in Archive or Trash by the server (history, not arrivals) runs no rules."""
    if placement not in (None, Location.SPAM):
        return []
    # One query for the whole batch; an organization without incoming rules stops here.
    candidates = enabled_rules(account.organization_id, Trigger.INCOMING)
    if not candidates:
        return []
    inbound = [(message, created) for message, created in messages if message.direction == Direction.INBOUND]
    # Delivery hands its messages over with their conversations: read only those missing.
    missing = {message.conversation_id for message, _ in inbound if not Message.conversation.is_cached(message)}
    conversations = Conversation.objects.in_bulk(missing) if missing else {}
    results = []
    for message, created in inbound:
        event = TriggerEvent(
            kind=Trigger.INCOMING,
            conversation=conversations.get(message.conversation_id) or message.conversation,
            message=message,
            account=account,
            channel=channel_of(account),
            trigger_key=f"msg:{message.id}:acct:{account.id}",
            at=message.created_at,
            fresh=created,
        )
        results.append(_safely(event, candidates))
    return results


def outgoing(message: Message, outbox: Any, acting_user: User | None) -> PassResult:
    from rules.timers import cancel_sla

    cancel_sla(message.conversation_id, TimerKind.UNREPLIED)  # a reply: no "unreplied" alarm
    event = TriggerEvent(
        kind=Trigger.OUTGOING,
        conversation=Conversation.objects.get(id=message.conversation_id),
        message=message,
        account=message.account,
        channel=channel_of(message.account),
        acting_user=acting_user,
        outbox=outbox,
        trigger_key=f"out:{message.id}",
        at=message.created_at,
    )
    return _safely(event)


def user_action(
    conversation_id: Any, action: str, acting_user_id: Any, data: dict[str, Any], key: str | None = None
) -> PassResult:
    conversation = Conversation.objects.filter(id=conversation_id).first()
    if action == "assignee_changed" and data.get("added_assignees"):
        from rules.timers import cancel_sla

        cancel_sla(conversation_id, TimerKind.UNASSIGNED)
    user = User.objects.filter(id=acting_user_id).first() if acting_user_id else None
    if conversation is None or user is None:
        return PassResult()
    event = TriggerEvent(
        kind=Trigger.USER_ACTION,
        user_action=action,
        conversation=conversation,
        acting_user=user,
        data=dict(data),
        trigger_key=key or f"act:{action}:{data.get('comment_id') or uuid.uuid4()}",
    )
    return _safely(event)
