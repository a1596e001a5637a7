"""GET /v1/messages/:ids and GET /v1/messages?email_message_id= (rest-api.md §4.20–4.21): full
messages with their body and conversation. POST /v1/messages (custom channels) lives with the
custom channel code and should register on this `router`, so that the path serves both."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from ninja import Router

from channels_app.api.batch import parse_ids
from channels_app.api.core import ApiError, api_user
from channels_app.api.serializers import conversations_json, message_json
from conversations.models import Conversation, Message
from inboxes.models import User

router = Router(tags=["messages"])

MAX_BY_MESSAGE_ID = 10


def _readable(user: User) -> QuerySet[Message]:
    return (
        Message.objects.filter(conversation__states__user=user)
        .select_related("account", "author", "conversation")
        .prefetch_related("attachments")
    )


def _full(messages: list[Message], user: User) -> list[dict[str, Any]]:
    conversations: dict[UUID, Conversation] = {}
    for message in messages:
        conversations.setdefault(message.conversation_id, message.conversation)
    by_id = dict(zip(conversations, conversations_json(list(conversations.values()), user), strict=True))
    return [message_json(message, body=True) | {"conversation": by_id[message.conversation_id]} for message in messages]


@router.get("/messages/{message_ids}")
def get_messages(request: HttpRequest, message_ids: str) -> dict[str, Any]:
    user = api_user(request)
    ids = parse_ids(message_ids, field="message_ids")
    found = {message.id: message for message in _readable(user).filter(id__in=ids)}
    if len(found) != len(ids):
        raise Http404("No such message.")
    items = _full([found[message_id] for message_id in ids], user)
    return {"messages": items[0] if len(message_ids.split(",")) == 1 else items}


@router.get("/messages")
def find_messages(request: HttpRequest, email_message_id: str) -> dict[str, Any]:
    user = api_user(request)
    bare = email_message_id.strip().removeprefix("<").removesuffix(">")
    if not bare or "\x00" in bare:
        raise ApiError("'email_message_id' must be a Message-ID", field="email_message_id")
    matching = _readable(user).filter(Q(rfc_message_id=bare) | Q(rfc_message_id=f"<{bare}>"))
    messages = list(matching.order_by("-sent_at", "-id")[:MAX_BY_MESSAGE_ID])
    return {"messages": _full(messages, user)}
