"""POST /v1/messages: an incoming message of a custom channel (rest-api.md §5.2).

The channel is named by `account` (the public API) or `channel_id` (the seed); the token's user
must be able to use it, else 404. The message is delivered like any other (conversations.delivery),
so it lands in the team inbox or members' inboxes as the channel is shared. `external_id` makes a
retry harmless: the same id again answers the stored message (200) and creates nothing.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from datetime import UTC, datetime
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.html import escape, linebreaks
from ninja import Field, Schema, Status
from pydantic import ConfigDict

from channels_app.api import messages
from channels_app.api.conversation_ops import ConversationOptions, apply_options, check_options
from channels_app.api.core import ApiError, api_user
from channels_app.custom.together import deliver_together
from channels_app.models import CustomMessageType
from conversations.delivery import Delivery
from conversations.incoming import IncomingAttachment, IncomingMessage
from conversations.models import ConversationState, ThreadKey
from conversations.text import html_to_text
from inboxes.models import Account, AccountKind, User

# GET /v1/messages lives on this router too: one path, one router (see core._mount_routers).
router = messages.router


class Party(Schema):
    """A sender or recipient: {address, name} on Email-type channels, {id, username, name} else."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=254)
    username: str | None = Field(None, max_length=254)
    name: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=254)


class AttachmentIn(Schema):
    model_config = ConfigDict(extra="forbid")
    base64_data: str
    filename: str = Field(..., min_length=1, max_length=255)


class MessageIn(ConversationOptions):
    """The message, and the conversation options every create body shares (conversation_ops)."""

    account: UUID | None = None
    channel_id: UUID | None = None  # the seed's name for `account`
    subject: str = Field("", max_length=500)
    body: str = ""
    from_field: Party
    to_fields: list[Party] = []
    cc_fields: list[Party] = []
    bcc_fields: list[Party] = []
    delivered_at: int | None = Field(None, ge=0)
    attachments: list[AttachmentIn] = []
    external_id: str | None = Field(None, max_length=255)
    references: list[str] = Field([], max_length=100)
    conversation_subject: str | None = Field(None, max_length=500)


class MessagesBody(Schema):
    messages: MessageIn


class CreatedMessage(Schema):
    id: UUID
    conversation: UUID


class CreatedMessages(Schema):
    messages: CreatedMessage


def _field(name: str) -> str:
    return f"messages.{name}"


def custom_channel_for(user: User, account_id: UUID) -> Account:
    """A custom channel the user may use (with its config), else 404."""
    try:  # get(), not first(): no ORDER BY to build on every message
        account = Account.objects.select_related("custom").get(id=account_id, kind=AccountKind.CUSTOM)
    except Account.DoesNotExist:
        raise Http404("No such custom channel.") from None
    # Its owner needs no second look (the usual integration token); others go through usable_by.
    if account.owner_id != user.id and not Account.objects.filter(id=account.id).usable_by(user).exists():
        raise Http404("No such custom channel.")
    return account


def _check(data: MessageIn, user: User) -> Account:
    account_id = data.account or data.channel_id
    if account_id is None:
        raise ApiError("'messages.account' is required (the custom channel's id).", field=_field("account"))
    if data.account and data.channel_id and data.account != data.channel_id:
        raise ApiError("'account' and 'channel_id' name different channels.", field=_field("channel_id"))
    account = custom_channel_for(user, account_id)
    if data.organization and data.organization != account.organization_id:
        raise ApiError("The channel is not in this organization.", field=_field("organization"))
    check_options(data, prefix="messages")
    email_type = account.custom.message_type == CustomMessageType.EMAIL
    for name in ("from_field", "to_fields", "cc_fields", "bcc_fields"):
        value = getattr(data, name)
        parties = value if isinstance(value, list) else [value]
        for index, party in enumerate(parties):
            where = name if name == "from_field" else f"{name}.{index}"
            _check_party(party, email_type=email_type, field=_field(where))
    if not email_type:
        for name in ("cc_fields", "bcc_fields"):
            if getattr(data, name):
                raise ApiError(f"'{name}' are for Email-type channels only.", field=_field(name))
    return account


def _check_party(party: Party, *, email_type: bool, field: str) -> None:
    if email_type:
        if party.id or party.username:
            raise ApiError("Email-type channels take {address, name}.", field=field)
        try:
            validate_email((party.address or "").strip())
        except ValidationError:
            raise ApiError(f"“{party.address or ''}” is not a valid email address.", field=f"{field}.address") from None
    elif party.address:
        raise ApiError("Text and HTML channels take {id, username, name}.", field=f"{field}.address")
    elif not (party.id or party.username or party.name):
        raise ApiError("Give at least one of id, username and name.", field=field)


def party_json(party: Party, *, email_type: bool) -> dict[str, str]:
    """As Message.to/cc keep people: {name, address}, plus id and username on Text/HTML channels
    (address is then the username, else the id: what the conversation shows and replies go to)."""
    if email_type:
        return {"name": (party.name or "").strip(), "address": (party.address or "").strip().lower()}
    return {
        "name": (party.name or "").strip(),
        "address": (party.username or party.id or "").strip(),
        "id": (party.id or "").strip(),
        "username": (party.username or "").strip(),
    }


def _attachments(data: MessageIn) -> list[IncomingAttachment]:
    attachments = []
    for index, item in enumerate(data.attachments):
        try:
            content = base64.b64decode(item.base64_data, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError("Not valid base64.", field=_field(f"attachments.{index}.base64_data")) from None
        content_type = mimetypes.guess_type(item.filename)[0] or "application/octet-stream"
        attachments.append(IncomingAttachment(filename=item.filename, content_type=content_type, content=content))
    return attachments


def incoming_message(account: Account, data: MessageIn, *, thread_keys: list[str]) -> IncomingMessage:
    message_type = account.custom.message_type
    email_type = message_type == CustomMessageType.EMAIL
    sender = party_json(data.from_field, email_type=email_type)
    if message_type == CustomMessageType.TEXT:
        body_text, body_html = data.body, linebreaks(escape(data.body))
    else:
        body_text, body_html = html_to_text(data.body), data.body
    sent_at = datetime.fromtimestamp(data.delivered_at, tz=UTC) if data.delivered_at is not None else timezone.now()
    return IncomingMessage(
        from_address=sender["address"],
        from_name=sender["name"],
        subject=data.subject if email_type else (data.subject or data.conversation_subject or ""),
        body_text=body_text,
        body_html=body_html,
        to=[party_json(p, email_type=email_type) for p in data.to_fields],
        cc=[party_json(p, email_type=email_type) for p in data.cc_fields],
        # Replies go to the sender as the channel names them: {id, username, name}.
        reply_to=[] if email_type else [sender],
        sent_at=sent_at,
        attachments=_attachments(data),
        external_id=data.external_id or "",
        thread_keys=thread_keys,
    )


def _conversation_key(user: User, account: Account, conversation_id: UUID) -> str:
    """`conversation`: a thread key held by that conversation, so delivery appends there. Only a
    conversation the user can see, of the channel's organization (else 404)."""
    state = (
        ConversationState.objects.filter(
            user=user, conversation_id=conversation_id, conversation__organization_id=account.organization_id
        )
        .select_related("conversation")
        .first()
    )
    if state is None:
        raise Http404("No such conversation.")
    key = f"conversation:{conversation_id}"
    ThreadKey.objects.get_or_create(
        organization_id=account.organization_id, key=key, defaults={"conversation": state.conversation}
    )
    return key


@router.post(
    "/messages",
    response={200: CreatedMessages, 201: CreatedMessages},
    summary="Create an incoming message in a custom channel",
)
def create_message(request: HttpRequest, payload: MessagesBody) -> Status:
    user = api_user(request)
    data = payload.messages
    account = _check(data, user)
    keys = [reference.strip()[:500] for reference in data.references if reference.strip()]
    if data.conversation is not None:
        keys.insert(0, _conversation_key(user, account, data.conversation))

    def options(delivery: Delivery) -> None:
        if delivery.created:  # a retry changes nothing a second time
            assert delivery.message is not None
            apply_options(delivery.message.conversation, data, user=user, prefix="messages")

    delivery = deliver_together(account, Delivery(incoming_message(account, data, thread_keys=keys)), then=options)
    message = delivery.message
    assert message is not None
    body = {"messages": {"id": message.id, "conversation": message.conversation_id}}
    return Status(201 if delivery.created else 200, body)
