"""POST /v1/posts, DELETE /v1/posts/:id and GET /v1/conversations/:id/posts (rest-api.md §4.28,
§4.29, §4.14): an integration's entries in a conversation, and the conversation changes they carry."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from channels_app.api.conversation_ops import (
    ConversationOptions,
    accessible_conversation,
    apply_options,
    check_options,
    organization_for,
    refused_as_400,
    target_conversation,
)
from channels_app.api.core import ApiError, api_user
from channels_app.api.pagination import check_limit, epoch, time_page
from conversations.integrations import do_create_post, do_delete_post, may_delete_post
from conversations.models import ConversationState, Post

router = Router(tags=["posts"])


class Notification(Schema):
    title: str = ""
    body: str = ""


class PostField(Schema):
    title: str = ""
    value: str = ""
    short: bool = False


class PostAttachment(Schema):
    color: str | None = None
    pretext: str | None = None
    author_name: str | None = None
    author_link: str | None = None
    author_icon: str | None = None
    title: str | None = None
    title_link: str | None = None
    image_url: str | None = None
    text: str | None = None
    markdown: str | None = None
    timestamp: int | None = None
    footer: str | None = None
    footer_icon: str | None = None
    fields: list[PostField] = []


class PostIn(ConversationOptions):
    username: str = Field("", max_length=200)
    username_icon: str = Field("", max_length=1000)
    conversation_icon: str | None = None
    text: str = ""
    markdown: str = ""
    notification: Notification | None = None
    attachments: list[PostAttachment] = []


class PostBody(Schema):
    posts: PostIn


def post_json(post: Post) -> dict[str, Any]:
    return {
        "id": str(post.id),
        "created_at": epoch(post.created_at),
        "username": post.username or None,
        "username_icon": post.username_icon or None,
        "text": post.text or None,
        "markdown": post.markdown or None,
        "notification": {"title": post.notification_title, "body": post.notification_body},
        "attachments": post.attachments,
    }


@router.post("/posts", response={201: dict})
def create_post(request: HttpRequest, payload: PostBody) -> Status[dict[str, Any]]:
    user = api_user(request)
    body = payload.posts
    check_options(body, prefix="posts")
    if not body.text.strip() and not body.markdown.strip() and not body.attachments:
        raise ApiError("'text', 'markdown' or 'attachments' is required", field="posts.text")
    with transaction.atomic():
        organization = organization_for(user, body.organization)
        conversation, _ = target_conversation(user, body, organization=organization, prefix="posts")
        notification = body.notification or Notification()
        with refused_as_400("posts"):
            post = do_create_post(
                conversation,
                author=user,
                text=body.text,
                markdown=body.markdown,
                username=body.username,
                username_icon=body.username_icon,
                notification_title=notification.title,
                notification_body=notification.body,
                attachments=[card.dict(exclude_none=True) for card in body.attachments],
            )
        apply_options(conversation, body, user=user, prefix="posts")
    return Status(201, {"posts": {"id": str(post.id), "conversation": str(conversation.id)}})


@router.delete("/posts/{post_id}", response={204: None})
def delete_post(request: HttpRequest, post_id: UUID) -> Status[None]:
    user = api_user(request)
    visible = ConversationState.objects.filter(user=user).values("conversation_id")
    post = Post.objects.filter(id=post_id, conversation_id__in=visible).select_related("conversation").first()
    if post is None:
        raise ApiError("Not found.", status=404)
    if not may_delete_post(post, user):
        raise ApiError("Only the organization's owners and admins can delete posts here.", status=403)
    with refused_as_400("id"):
        do_delete_post(post, acting_user=user)
    return Status(204, None)


@router.get("/conversations/{conversation_id}/posts")
def list_posts(
    request: HttpRequest, conversation_id: UUID, limit: int | None = None, until: int | None = None
) -> dict[str, Any]:
    user = api_user(request)
    conversation = accessible_conversation(user, conversation_id)
    page = time_page(
        Post.objects.filter(conversation=conversation),
        "created_at",
        limit=check_limit(limit, default=10, maximum=10),
        until=until,
    )
    return {"posts": [post_json(post) for post in page]}
