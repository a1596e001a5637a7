"""What a custom channel lets its users send (features-2 "Custom channels" rule): replies only
with Allow replying, new conversations only with Allow sending new messages, no more recipients
than its maximum, and with Allow editing recipients off, only the people being answered."""

from __future__ import annotations

from channels_app.models import CustomChannelConfig
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


DRAFT_CHECKS[AccountKind.CUSTOM] = check_custom_draft
