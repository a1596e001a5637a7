"""Outgoing messages as the send action leaves them: a Message (outbound) and its PENDING
OutboxMessage, written directly, for the dispatcher's tests and the sending benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.files.base import ContentFile
from django.utils import timezone

from conversations.models import (
    AccessSource,
    Attachment,
    Conversation,
    ConversationState,
    Direction,
    Location,
    Message,
    OutboxMessage,
)
from inboxes.models import Account

# (filename, content, content type) or, inline in the HTML, (filename, content, type, content id).
File = tuple[str, bytes, str] | tuple[str, bytes, str, str]


def outgoing(
    account: Account,
    *,
    to: Sequence[object] = ({"name": "Bob Buyer", "address": "bob@outside.test"},),
    cc: Sequence[object] = (),
    bcc: Sequence[object] = (),
    subject: str = "Your order",
    body_text: str = "Hello Bob,\r\nyour order shipped.",
    body_html: str = "",
    from_name: str = "Olivia Owner",
    from_address: str | None = None,
    conversation: Conversation | None = None,
    in_reply_to: str = "",
    references: str = "",
    rfc_message_id: str = "",
    files: Sequence[File] = (),
    send_after: datetime | None = None,
) -> Message:
    now = timezone.now()
    if conversation is None:
        conversation = Conversation.objects.create(
            organization_id=account.organization_id, subject=subject, has_outbound=True, message_count=1
        )
        ConversationState.objects.create(
            organization_id=account.organization_id,
            conversation=conversation,
            user_id=account.owner_id,
            access_source=AccessSource.ACCOUNT,
            location=Location.NONE,
        )
    message = Message.objects.create(
        organization_id=account.organization_id,
        conversation=conversation,
        account=account,
        direction=Direction.OUTBOUND,
        from_name=from_name,
        from_address=from_address or account.address,
        to=list(to),
        cc=list(cc),
        bcc=list(bcc),
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        rfc_message_id=rfc_message_id,
        in_reply_to=in_reply_to,
        references=references,
        sent_at=now,
        author_id=account.owner_id,
    )
    for file in files:
        filename, content, content_type = file[0], file[1], file[2]
        attachment = Attachment(
            organization_id=account.organization_id,
            message=message,
            filename=filename,
            content_type=content_type,
            size=len(content),
            content_id=file[3] if len(file) > 3 else "",  # type: ignore[misc]
            is_inline=len(file) > 3,
        )
        attachment.file.save(filename, ContentFile(content), save=False)
        attachment.save()
    OutboxMessage.objects.create(
        organization_id=account.organization_id, message=message, account=account, send_after=send_after or now
    )
    return message
