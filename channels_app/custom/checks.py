"""What a custom channel lets its users send (features-2 "Custom channels" rule): replies only
with Allow replying, new conversations only with Allow sending new messages, no more recipients
than its maximum, and with Allow editing recipients off, only the people being answered."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Q

from channels_app.models import CustomChannelConfig, CustomMessageType
from conversations import composer_rules
from conversations.actions import ActionRefused
from conversations.models import Direction, Draft, Message
from conversations.sending import DRAFT_CHECKS, Recipients
from inboxes.models import AccountKind


def check_custom_draft(draft: Draft, recipients: Recipients) -> None:
    config = CustomChannelConfig.objects.filter(account=draft.account).first()
    if config is None or not config.sends:
        raise ActionRefused("This channel only receives messages: answer from an email account instead.")
    replying = draft.replying_to_id is not None or draft.conversation.message_count > 0
    if replying and not config.allow_replies:
        raise ActionRefused("This channel does not allow replies.")
    if not replying and not config.allow_new_messages:
        raise ActionRefused("This channel does not allow new messages.")
    people = recipients.everyone
    if recipients.cc or recipients.bcc:
        raise ActionRefused("This channel sends to To recipients only: it has no Cc or Bcc.")
    if len(people) > config.max_recipients:
        raise ActionRefused(f"This channel allows at most {config.max_recipients} recipient(s).")
    if replying and not config.allow_edit_recipients:
        answered = _answered_addresses(draft)
        if answered and any(person["address"] not in answered for person in people):
            raise ActionRefused("This channel does not allow changing the recipients of a reply.")


def _answered_addresses(draft: Draft) -> set[str]:
    message = (
        draft.replying_to or Message.objects.filter(conversation_id=draft.conversation_id).order_by("-sent_at").first()
    )
    if message is None:
        return set()
    if message.direction == Direction.OUTBOUND:
        return {p.get("address", "") for p in message.to}
    return {p.get("address", "") for p in message.reply_to} | {message.from_address}


def composer_rules_for(draft: Draft) -> composer_rules.ComposerRules:
    """The composer offers what check_custom_draft accepts: a To row only (the webhook's
    to_fields), with the channel's own recipient fields, locked on a reply the channel keeps."""
    config = CustomChannelConfig.objects.filter(account=draft.account).first()
    if config is None:
        return composer_rules.ComposerRules(fields=("to",))
    parts = [
        label
        for allowed, label in (
            (config.allow_recipient_name, "Name"),
            (config.allow_recipient_username, "username"),
            (config.allow_recipient_id, "ID"),
        )
        if allowed
    ]
    placeholder = " or ".join(parts).capitalize() if parts else ""
    locked = not composer_rules.is_new_conversation(draft) and not config.allow_edit_recipients
    return composer_rules.ComposerRules(fields=("to",), locked=locked, placeholder=placeholder)


def accounts_without_new_messages(organization_id: UUID) -> set[UUID]:
    """Custom channels whose "Allow sending new messages" is off, and the receive-only Email type."""
    configs = CustomChannelConfig.objects.filter(organization_id=organization_id)
    closed = configs.filter(Q(allow_new_messages=False) | Q(message_type=CustomMessageType.EMAIL))
    return set(closed.values_list("account_id", flat=True))


DRAFT_CHECKS[AccountKind.CUSTOM] = check_custom_draft
composer_rules.RULES[AccountKind.CUSTOM] = composer_rules_for
composer_rules.NO_NEW_CONVERSATIONS.append(accounts_without_new_messages)
