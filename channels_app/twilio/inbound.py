"""What Twilio posts to us: incoming messages (the form-encoded webhook, or a Studio flow's JSON
body with the same keys) and status callbacks of the messages we sent.

Both are signed with the account's Auth Token (X-Twilio-Signature); the view checks it before any
of this runs. A message is stored once per MessageSid (a retried webhook finds the stored one) and
threads into one conversation per pair of numbers (the seed's sorted-pair key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from channels_app.twilio.client import TwilioClient, TwilioError
from conversations.delivery import Delivery, do_receive_messages
from conversations.incoming import IncomingAttachment, IncomingMessage
from conversations.models import DeliveryStatus, Message
from inboxes.models import Account, AccountKind

WHATSAPP_PREFIX = "whatsapp:"
MISSING_MEDIA_NOTE = "[{count} media file(s) were sent with this message but Twilio did not pass them on.]"
MAX_MEDIA = 10

# Twilio's statuses as ours, and their order: a late callback never moves a message backwards.
_STATUS = {
    "accepted": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
}
_RANK = {
    "": 0,
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.UNDELIVERED: 3,
    DeliveryStatus.FAILED: 3,
    DeliveryStatus.READ: 4,
}
# Twilio's wording of the errors a status callback carries only as a code.
ERROR_WORDING = {
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered (carrier violation)",
    "30008": "Unknown error",
    "21610": "Attempt to send to unsubscribed recipient",
    "63016": "Failed to send freeform message because you are outside the allowed window. Please use a Template.",
}


def pair_key(a: str, b: str) -> str:
    """The seed's SMS thread key: the two E.164 numbers sorted as strings and joined."""
    return min(a, b) + max(a, b)


def thread_key(account: Account, our_number: str, contact: str) -> str:
    """SMS pairs as the seed says; WhatsApp pairs apart, so the two channels of one number never
    share a conversation."""
    key = pair_key(our_number, contact)
    return WHATSAPP_PREFIX + key if account.kind == AccountKind.WHATSAPP else key


def strip_channel(number: str) -> str:
    return number.removeprefix(WHATSAPP_PREFIX).strip()


@dataclass(frozen=True)
class InboundResult:
    message: Message
    created: bool


def _attachments(account: Account, params: dict[str, str]) -> tuple[list[IncomingAttachment], str]:
    """MediaUrlN downloaded with the account's credentials; a note for media we could not have."""
    try:
        count = min(int(params.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        count = 0
    if count == 0:
        return [], ""
    credentials = account.credentials
    client = TwilioClient(credentials["account_sid"], credentials["auth_token"])
    attachments: list[IncomingAttachment] = []
    missing = 0
    for index in range(count):
        url = params.get(f"MediaUrl{index}", "")
        if not url:
            missing += 1
            continue
        try:
            content_type, content = client.download(url)
        except TwilioError:
            missing += 1
            continue
        content_type = params.get(f"MediaContentType{index}") or content_type
        extension = content_type.split("/")[-1].split(";")[0] or "bin"
        attachments.append(
            IncomingAttachment(filename=f"media-{index + 1}.{extension}", content_type=content_type, content=content)
        )
    return attachments, (MISSING_MEDIA_NOTE.format(count=missing) if missing else "")


def receive_inbound(account: Account, params: dict[str, Any]) -> InboundResult:
    """Store one incoming message (media downloaded first, outside the transaction)."""
    params = {key: str(value) for key, value in params.items()}
    sid = params.get("MessageSid") or params.get("SmsMessageSid") or params.get("SmsSid") or ""
    existing = Message.objects.filter(account=account, external_id=sid).first() if sid else None
    if existing is not None:
        return InboundResult(existing, False)
    sender, our_number = strip_channel(params.get("From", "")), strip_channel(params.get("To", ""))
    attachments, note = _attachments(account, params)
    body = params.get("Body", "")
    if note:
        body = f"{body}\n\n{note}" if body else note
    incoming = IncomingMessage(
        from_address=sender,
        subject="",
        body_text=body,
        to=[{"name": "", "address": our_number}],
        attachments=attachments,
        external_id=sid,
        thread_keys=[thread_key(account, our_number, sender)],
    )
    delivery = Delivery(incoming)
    with transaction.atomic():
        do_receive_messages(account, [delivery])
    assert delivery.message is not None
    return InboundResult(delivery.message, delivery.created)


def error_text(code: str, message: str = "") -> str:
    wording = message or ERROR_WORDING.get(code, "The message could not be delivered")
    return f"{wording} (Twilio error {code})" if code else wording


def apply_status(message: Message, params: dict[str, Any]) -> bool:
    """Record a status callback on our message; a status earlier than the stored one is ignored
    (callbacks may arrive out of order). Returns whether anything changed."""
    status = _STATUS.get(str(params.get("MessageStatus") or params.get("SmsStatus") or "").lower())
    if status is None:
        return False
    code = str(params.get("ErrorCode") or "")
    with transaction.atomic():
        current = Message.objects.select_for_update().get(id=message.id)
        if _RANK[status] <= _RANK[current.delivery_status or ""]:
            return False
        current.delivery_status = status
        fields = ["delivery_status"]
        if status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED):
            current.delivery_error = error_text(code, str(params.get("ErrorMessage") or ""))
            fields.append("delivery_error")
        sid = str(params.get("MessageSid") or "")
        if sid and not current.external_id:
            current.external_id = sid
            fields.append("external_id")
        current.save(update_fields=fields)
    return True
