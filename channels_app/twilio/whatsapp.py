"""WhatsApp's 24-hour window: free-form messages only within 24 hours of the contact's last
message in the conversation; outside it, only an approved template (WhatsAppTemplate) may go.

Checked when a draft is sent (the message_sending signal, inside do_send_draft's transaction, so a
refusal leaves nothing written or queued), and by Twilio itself (error 63016) as a last resort.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from channels_app.models import WhatsAppTemplate, WhatsAppTemplateSend
from channels_app.twilio.fanout import fan_out
from channels_app.twilio.inbound import thread_key
from conversations.actions import ActionRefused
from conversations.models import Conversation, Direction, Draft, Message, OutboxMessage
from conversations.sending import PHONE_KINDS, do_send_draft
from conversations.signals import message_sending
from inboxes.models import AccountKind, User

WINDOW = timedelta(hours=24)
# The seed: bulk SMS is capped at 100 numbers per message.
MAX_RECIPIENTS = 100
_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
OUTSIDE_WINDOW = (
    "WhatsApp allows free-form messages only within 24 hours of the contact's last message. "
    "Send an approved template instead."
)


def last_inbound_at(conversation: Conversation) -> datetime | None:
    return (
        Message.objects.filter(conversation=conversation, direction=Direction.INBOUND)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )


def window_open(conversation: Conversation, *, now: datetime | None = None) -> bool:
    last = last_inbound_at(conversation)
    return last is not None and (now or timezone.now()) - last <= WINDOW


def placeholders(body: str) -> list[str]:
    """The template's positional variables, in order: ["1", "2"]."""
    return sorted(set(_PLACEHOLDER.findall(body)), key=int)


def interpolate(body: str, variables: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), body)


@transaction.atomic
def do_send_whatsapp_template(
    draft: Draft, *, template: WhatsAppTemplate, variables: dict[str, str], acting_user: User
) -> Message:
    """Send the draft as the template: its text becomes the filled-in template (what people see
    in the conversation), and Twilio gets the ContentSid and variables."""
    if draft.account_id != template.account_id or template.status != "approved":
        raise ActionRefused("Choose an approved template of this WhatsApp number.")
    missing = [key for key in placeholders(template.body) if not (variables.get(key) or "").strip()]
    if missing:
        raise ActionRefused(f"Fill in variable {{{{{missing[0]}}}}} of the template.")
    values = {key: variables[key].strip() for key in placeholders(template.body)}
    text = interpolate(template.body, values)
    Draft.objects.filter(id=draft.id).update(body_html=_paragraphs(text), ydoc=b"", subject="")
    WhatsAppTemplateSend.objects.update_or_create(
        draft=draft,
        defaults={
            "organization_id": draft.organization_id,
            "template": template,
            "content_sid": template.content_sid,
            "variables": values,
        },
    )
    message = do_send_draft(draft, acting_user=acting_user)
    WhatsAppTemplateSend.objects.filter(draft=draft).update(message=message)
    return message


def _paragraphs(text: str) -> str:
    from html import escape

    return "".join(f"<p>{escape(line)}</p>" for line in text.split("\n"))


@receiver(message_sending, dispatch_uid="twilio_phone_checks")
def check_phone_message(sender: Any, *, message: Message, outbox: OutboxMessage, **kwargs: Any) -> None:
    """Refuse what Twilio would refuse, before anything is queued; thread the contacts' answers."""
    account = outbox.account
    if account.kind not in PHONE_KINDS:
        return
    recipients = [*message.to, *message.cc, *message.bcc]
    if len(recipients) > MAX_RECIPIENTS:
        raise ActionRefused(f"A text message goes to at most {MAX_RECIPIENTS} numbers; this one has {len(recipients)}.")
    if account.kind == AccountKind.WHATSAPP and len(recipients) > 1:
        raise ActionRefused("A WhatsApp message goes to one number. Send each contact their own.")
    # One message per number, each in its pair's conversation, where the contact's answer threads.
    keys = {person["address"]: thread_key(account, account.address, person["address"]) for person in recipients}
    fan_out(message, outbox, keys=keys)
    is_template = WhatsAppTemplateSend.objects.filter(draft__sent_message=message).exists()
    if not is_template and not message.body_text.strip() and not message.attachments.exists():
        raise ActionRefused("Write a message before sending.")
    if account.kind != AccountKind.WHATSAPP:
        return
    if not is_template and not window_open(message.conversation):
        raise ActionRefused(OUTSIDE_WINDOW)
