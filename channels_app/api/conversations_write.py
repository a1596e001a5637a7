"""POST /v1/conversations/:id/merge and PATCH /v1/conversations/:id1,:id2 (rest-api.md §4.15,
§4.16): merge two conversations; change conversations' state without leaving a post."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema

from channels_app.api import conversations
from channels_app.api.conversation_ops import (
    ConversationOptions,
    accessible_conversation,
    apply_options,
    check_options,
    refused_as_400,
)
from channels_app.api.core import ApiError, api_user
from channels_app.api.serializers import conversation_json, conversations_json
from conversations.merge import SubjectChoice, do_merge_conversations
from missive.ids import is_uuid

router = Router(tags=["conversations"])


class MergeIn(Schema):
    target: UUID
    subject: str = Field("", max_length=500)


@router.post("/conversations/{conversation_id}/merge")
def merge_conversation(request: HttpRequest, conversation_id: UUID, payload: MergeIn) -> dict[str, Any]:
    user = api_user(request)
    source = accessible_conversation(user, conversation_id, field="id")
    target = accessible_conversation(user, payload.target, field="target")
    choice = SubjectChoice.NEW if payload.subject.strip() else SubjectChoice.AUTO
    with refused_as_400("target"):
        merged = do_merge_conversations(
            source, target, acting_user=user, subject_choice=choice, new_subject=payload.subject
        )
    return {"conversations": [conversation_json(merged, user)]}


class ConversationPatch(ConversationOptions):
    id: UUID
    subject: str | None = Field(None, max_length=500)
    color: str | None = None


class PatchBody(Schema):
    conversations: list[ConversationPatch]


def path_ids(ids: str) -> list[UUID]:
    """`:id1,:id2` as UUIDs, each once (400 naming `ids` otherwise)."""
    parts = [part.strip() for part in ids.split(",") if part.strip()]
    if not parts or not all(is_uuid(part) for part in parts):
        raise ApiError("'ids' must be comma-separated UUIDs", field="ids")
    return list(dict.fromkeys(UUID(part) for part in parts))


# On the GET's router: one path, one router (see core._mount_routers).
@conversations.router.patch("/conversations/{conversation_id}")
def update_conversations(request: HttpRequest, conversation_id: str, payload: PatchBody) -> dict[str, Any]:
    """`conversation_id` is one id or several, comma-separated."""
    user = api_user(request)
    wanted = path_ids(conversation_id)
    if sorted(item.id for item in payload.conversations) != sorted(wanted):
        raise ApiError("'conversations' needs one object per id in the path", field="conversations")
    for index, item in enumerate(payload.conversations):
        if item.conversation_subject is None:
            item.conversation_subject = item.subject
        if item.conversation_color is None:
            item.conversation_color = item.color
        if item.add_shared_labels and item.organization is None:
            raise ApiError(
                "'organization' is required with 'add_shared_labels'", field=f"conversations.{index}.organization"
            )
        check_options(item, prefix=f"conversations.{index}")
    updated = []
    with transaction.atomic():
        for index, item in enumerate(payload.conversations):
            conversation = accessible_conversation(user, item.id, field=f"conversations.{index}.id")
            apply_options(conversation, item, user=user, prefix=f"conversations.{index}")
            updated.append(conversation)
    return {"conversations": conversations_json(updated, user)}
