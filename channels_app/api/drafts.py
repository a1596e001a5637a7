"""POST /v1/drafts and DELETE /v1/drafts/:id (rest-api.md §4.17, §4.18): write a message as a
draft, send it now through the outbox, or schedule it; the conversation options apply too."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from channels_app.api.conversation_ops import (
    ConversationOptions,
    apply_options,
    check_options,
    organization_for,
    refused_as_400,
    target_conversation,
)
from channels_app.api.core import ApiError, api_user
from channels_app.api.pagination import from_epoch
from conversations.drafts import choose_from, do_discard_draft, get_draft_for_user
from conversations.integrations import do_create_api_draft
from conversations.models import Conversation, Message
from conversations.sending import (
    PHONE_KINDS,
    clean_recipients,
    do_schedule_draft,
    do_send_draft,
    normalize_phone,
)
from inboxes.aliases import usable_aliases
from inboxes.models import Account, AccountKind, Alias, Membership, Organization, User

router = Router(tags=["drafts"])

MAX_ATTACHMENTS = 25
# from_field.type → the account kind it names (§4.17: only needed when a number has several).
PHONE_TYPES = {
    "twilio": AccountKind.TWILIO_SMS,
    "signalwire": AccountKind.TWILIO_SMS,
    "twilio_whatsapp": AccountKind.WHATSAPP,
    "whatsapp": AccountKind.WHATSAPP,
}
NO_SENDER = "'from_field' does not match an available sender"


class Person(Schema):
    """An address on any channel: email (`address`), phone (`phone_number`), custom (`id`,
    `username`)."""

    address: str | None = None
    name: str | None = None
    phone_number: str | None = None
    type: str | None = None
    id: str | None = None
    username: str | None = None


class FileIn(Schema):
    base64_data: str
    filename: str = Field(..., min_length=1, max_length=255)


class DraftIn(ConversationOptions):
    subject: str = Field("", max_length=500)
    body: str = ""
    quote_previous_message: bool = False
    from_field: Person | None = None
    to_fields: list[Person] = []
    cc_fields: list[Person] = []
    bcc_fields: list[Person] = []
    account: UUID | None = None
    attachments: list[FileIn] = []
    send: bool = False
    send_at: int | None = None
    auto_followup: bool = False
    external_response_id: str = Field("", max_length=200)
    external_response_variables: dict[str, str] = {}


class DraftBody(Schema):
    drafts: DraftIn


def _check_body(request: HttpRequest, body: DraftIn) -> None:
    if body.send and body.send_at is not None:
        raise ApiError("'send_at' cannot be combined with 'send'", field="drafts.send_at")
    if body.auto_followup and body.send_at is None:
        raise ApiError("'auto_followup' requires 'send_at'", field="drafts.auto_followup")
    if len(body.attachments) > MAX_ATTACHMENTS:
        raise ApiError(f"'attachments' is limited to {MAX_ATTACHMENTS} files", field="drafts.attachments")


def _files(body: DraftIn) -> list[tuple[str, bytes]]:
    files = []
    for index, item in enumerate(body.attachments):
        try:
            content = base64.b64decode(item.base64_data, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                "'base64_data' is not valid base64", field=f"drafts.attachments.{index}.base64_data"
            ) from None
        files.append((item.filename.replace("/", "_").replace("\\", "_"), content))
    return files


def _sender(user: User, body: DraftIn, organization: Organization | None) -> tuple[Alias | None, Account | None]:
    """The alias (and account) the draft goes out from: the custom channel `account`, the phone
    number of `from_field`, or its email address among the user's aliases."""
    mine = Membership.objects.filter(user=user).values_list("organization_id", flat=True)
    scope = [organization.id] if organization is not None else list(mine)
    usable = Alias.objects.filter(
        id__in=[alias.id for org_id in scope for alias in usable_aliases(user, org_id)]
    ).select_related("account")
    if body.account is not None:
        account = Account.objects.filter(organization_id__in=scope, id=body.account).usable_by(user).first()
        if account is None:
            raise ApiError("Not found.", status=404, field="drafts.account")
        return usable.filter(account=account).order_by("-is_default", "address").first(), account
    sender = body.from_field
    if sender is None:
        return None, None
    if sender.phone_number:
        try:
            number = normalize_phone(sender.phone_number)
        except Exception:
            raise ApiError(NO_SENDER, field="drafts.from_field.phone_number") from None
        kinds = [PHONE_TYPES[sender.type]] if sender.type in PHONE_TYPES else list(PHONE_KINDS)
        matches = [a for a in usable.filter(account__kind__in=kinds) if number in (a.address, a.account.address)]
        if len({a.account.kind for a in matches}) > 1:
            raise ApiError("Several accounts have this number: give 'type'", field="drafts.from_field.type")
        if not matches:
            raise ApiError(NO_SENDER, field="drafts.from_field.phone_number")
        return matches[0], matches[0].account
    address = (sender.address or "").strip().lower()
    alias = usable.filter(address__iexact=address).order_by("-is_default").first() if address else None
    if alias is None:
        raise ApiError(NO_SENDER, field="drafts.from_field")
    return alias, alias.account


def _recipients(body: DraftIn, kind: str | None) -> tuple[list, list, list]:
    """The recipients as a draft holds them, checked as the channel addresses people."""
    if kind in PHONE_KINDS:
        if len(body.to_fields) != 1 or not body.to_fields[0].phone_number or body.cc_fields or body.bcc_fields:
            raise ApiError("exactly one 'to_fields' phone number is required", field="drafts.to_fields")
        with refused_as_400("drafts.to_fields.0.phone_number"):
            number = normalize_phone(body.to_fields[0].phone_number)
        return [{"name": body.to_fields[0].name or "", "address": number}], [], []
    if kind == AccountKind.CUSTOM:
        people = [p.dict(exclude_none=True) for p in body.to_fields]
        return people, [], []
    lists = []
    for name in ("to_fields", "cc_fields", "bcc_fields"):
        people = [{"name": p.name or "", "address": p.address or ""} for p in getattr(body, name)]
        with refused_as_400(f"drafts.{name}"):
            lists.append(clean_recipients(people))
    return lists[0], lists[1], lists[2]


@router.post("/drafts", response={201: dict})
def create_draft(request: HttpRequest, payload: DraftBody) -> Status[dict[str, Any]]:
    user = api_user(request)
    body = payload.drafts
    _check_body(request, body)
    check_options(body, prefix="drafts")
    files = _files(body)
    with transaction.atomic():
        organization = organization_for(user, body.organization)
        alias, account = _sender(user, body, organization)
        if organization is None and account is not None:
            organization = account.organization
        to, cc, bcc = _recipients(body, account.kind if account is not None else None)
        conversation, _ = target_conversation(user, body, organization=organization, prefix="drafts")
        if account is not None and account.organization_id != conversation.organization_id:
            raise ApiError(NO_SENDER, field="drafts.from_field")
        if alias is None and account is None:  # as the app does: the best alias for the reply
            latest = Message.objects.filter(conversation=conversation).order_by("-sent_at").first()
            alias = choose_from(user, conversation.organization_id, replying_to=latest)
        with refused_as_400("drafts"):
            draft = do_create_api_draft(
                conversation,
                acting_user=user,
                alias=alias,
                account=account,
                to=to,
                cc=cc,
                bcc=bcc,
                subject=body.subject,
                body_html=body.body,
                quote_previous_message=body.quote_previous_message,
                files=files,
                external_response_id=body.external_response_id,
                external_response_variables=body.external_response_variables,
            )
        sent = None
        if body.send:
            with refused_as_400("drafts.send"):
                sent = do_send_draft(draft, acting_user=user, delay_seconds=0)
        elif body.send_at is not None:
            with refused_as_400("drafts.send_at"):
                do_schedule_draft(
                    draft,
                    acting_user=user,
                    at=from_epoch(body.send_at, field="drafts.send_at"),
                    discard_if_reply=body.auto_followup,
                )
        conversation = Conversation.objects.get(id=conversation.id)
        apply_options(conversation, body, user=user, prefix="drafts")
    result: dict[str, Any] = {"id": str(draft.id), "conversation": str(conversation.id)}
    if sent is not None:
        result["message"] = str(sent.id)
    return Status(201, {"drafts": result})


@router.delete("/drafts/{draft_id}", response={204: None})
def delete_draft(request: HttpRequest, draft_id: UUID) -> Status[None]:
    user = api_user(request)
    draft = get_draft_for_user(user, draft_id)
    with refused_as_400("id"):
        do_discard_draft(draft, acting_user=user)
    return Status(204, None)
