"""What integrations do to conversations (the /v1 API): start one, rename it, bring it to
everyone's Inbox, and posts — an integration's entries in the timeline. One transaction each."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from markdown_it import MarkdownIt

from conversations import live, search_index
from conversations.actions import (
    ActionRefused,
    _counts_changed,
    _grant_access,
    _state_of,
)
from conversations.drafts import _drafts_changed, do_add_draft_attachment, quoted_reply
from conversations.models import (
    AccessSource,
    Conversation,
    ConversationKind,
    ConversationState,
    Draft,
    DraftKind,
    Location,
    Message,
    Post,
    Subtask,
)
from conversations.sanitize import clean_outgoing_html, sanitize_composed_html
from conversations.task_actions import TITLE_LIMIT
from inboxes import aliases
from inboxes.models import Account, Alias, Membership, Organization, User

POST_TEXT_LIMIT = 8000
POST_ATTACHMENT_LIMIT = 20


@transaction.atomic
def do_start_conversation(organization: Organization, *, acting_user: User, subject: str = "") -> Conversation:
    """A new conversation that only its creator can access (an API draft or post that matched no
    existing conversation): the API's other options then share, assign or move it."""
    if not Membership.objects.filter(organization=organization, user=acting_user).exists():
        raise ActionRefused("You are not a member of this organization.")
    now = timezone.now()
    subject = subject.strip()[:500]
    conversation = Conversation.objects.create(
        organization=organization,
        kind=ConversationKind.THREAD,
        subject=subject,
        subject_is_custom=bool(subject),
        created_at=now,
        last_activity_at=now,
    )
    ConversationState.objects.create(
        organization=organization,
        conversation=conversation,
        user=acting_user,
        access_source=AccessSource.CREATOR,
        location=Location.NONE,
        watching=True,
        last_activity_at=now,
    )
    return conversation


@transaction.atomic
def do_rename_conversation(conversation: Conversation, subject: str, *, acting_user: User | None) -> None:
    """The conversation's own subject (the API's `conversation_subject`); "" goes back to the
    messages' subject."""
    subject = " ".join(subject.split())[:500]
    if conversation.subject == subject and conversation.subject_is_custom == bool(subject):
        return
    conversation.subject, conversation.subject_is_custom = subject, bool(subject)
    conversation.save(update_fields=["subject", "subject_is_custom"])
    search_index.queue(conversation.organization_id, [conversation.id])
    _counts_changed(conversation)


@transaction.atomic
def do_move_to_everyones_inbox(conversation: Conversation, *, acting_user: User | None) -> None:
    """`add_to_inbox`: back in the Inbox of everyone with access (not their trashed or spam
    copies), unread."""
    user_ids = set(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    _grant_access(conversation, user_ids, source=AccessSource.ADDED, in_inbox=True)
    _counts_changed(conversation)


# --- Posts ----------------------------------------------------------------------------------------

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown_html(source: str) -> str:
    """Markdown as safe HTML: raw HTML in the source is escaped, and the result goes through the
    same allow-list as composed mail."""
    return sanitize_composed_html(_markdown.render(source or ""))


def _clean_attachments(attachments: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(attachments) > POST_ATTACHMENT_LIMIT:
        raise ActionRefused(f"A post can have up to {POST_ATTACHMENT_LIMIT} attachments.")
    return [{key: value for key, value in card.items() if value not in (None, "", [])} for card in attachments]


@transaction.atomic
def do_create_post(
    conversation: Conversation,
    *,
    author: User,
    text: str = "",
    markdown: str = "",
    username: str = "",
    username_icon: str = "",
    notification_title: str = "",
    notification_body: str = "",
    attachments: Sequence[dict[str, Any]] = (),
) -> Post:
    """A post in the conversation's timeline. It counts as activity: the conversation rises in
    everyone's lists and turns unread for the others; watchers find it back in their Inbox."""
    _state_of(conversation, author)
    text, markdown = text.strip()[:POST_TEXT_LIMIT], markdown.strip()[:POST_TEXT_LIMIT]
    cards = _clean_attachments(attachments)
    if not text and not markdown and not cards:
        raise ActionRefused("A post needs text, markdown or attachments.")
    now = timezone.now()
    post = Post.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        author=author,
        username=username.strip()[:200],
        username_icon=username_icon.strip()[:1000],
        text=text,
        markdown=markdown,
        notification_title=(notification_title or username or author.display_name).strip()[:500],
        notification_body=(notification_body or text or markdown).strip()[:1000],
        attachments=cards,
        created_at=now,
    )
    others = ConversationState.objects.filter(conversation=conversation).exclude(user=author)
    others.exclude(location__in=[Location.TRASHED, Location.SPAM]).update(unread=True)
    others.filter(watching=True, location__in=[Location.NONE, Location.ARCHIVED]).update(location=Location.INBOX)
    conversation.last_activity_at = now
    conversation.save(update_fields=["last_activity_at"])
    ConversationState.objects.filter(conversation=conversation).update(last_activity_at=now)
    search_index.queue(conversation.organization_id, [conversation.id])
    _counts_changed(conversation)
    return post


def may_delete_post(post: Post, user: User) -> bool:
    """In a conversation shared with the organization only its owners and admins delete posts
    (spec §4.29); in a private one, whoever can see it."""
    if not ConversationState.objects.filter(conversation_id=post.conversation_id, user=user).exists():
        return False
    if not post.conversation.is_shared:
        return True
    membership = Membership.objects.filter(organization_id=post.organization_id, user=user).first()
    return membership is not None and membership.can_manage


@transaction.atomic
def do_delete_post(post: Post, *, acting_user: User) -> None:
    if not may_delete_post(post, acting_user):
        raise ActionRefused("Only the organization's owners and admins can delete posts here.")
    conversation = post.conversation
    post.delete()
    search_index.queue(conversation.organization_id, [conversation.id])
    _counts_changed(conversation)


# --- Drafts from the API --------------------------------------------------------------------------


@transaction.atomic
def do_create_api_draft(
    conversation: Conversation,
    *,
    acting_user: User,
    alias: Alias | None,
    account: Account | None,
    to: list[dict[str, str]],
    cc: list[dict[str, str]],
    bcc: list[dict[str, str]],
    subject: str,
    body_html: str,
    quote_previous_message: bool = False,
    files: Sequence[tuple[str, bytes]] = (),
    external_response_id: str = "",
    external_response_variables: dict[str, str] | None = None,
) -> Draft:
    """A draft written whole by an integration (POST /v1/drafts), in a conversation the user can
    access: a reply to its latest message when it has one (optionally quoting it), else a new
    message. `alias` must be one the user may send from; its account is the draft's."""
    _state_of(conversation, acting_user)
    if alias is not None:
        if not aliases.may_send_as(acting_user, alias):
            raise ActionRefused("You may not send from this address.")
        account = alias.account
    latest = Message.objects.filter(conversation=conversation).order_by("-sent_at").first()
    body = clean_outgoing_html(body_html)
    if quote_previous_message and latest is not None:
        body += quoted_reply(latest)
    now = timezone.now()
    draft = Draft.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        kind=DraftKind.REPLY if latest is not None else DraftKind.NEW,
        replying_to=latest,
        creator=acting_user,
        account=account,
        alias=alias,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject[:500],
        body_html=body,
        external_response_id=external_response_id[:200],
        external_response_variables=external_response_variables or {},
        created_at=now,
        updated_at=now,
        updated_by=acting_user,
    )
    for filename, content in files:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        upload = SimpleUploadedFile(filename, content, content_type=content_type)
        do_add_draft_attachment(draft, acting_user=acting_user, upload=upload, inline=False)
    _drafts_changed(conversation)
    return draft


@transaction.atomic
def do_edit_subtask(subtask: Subtask, *, acting_user: User, title: str | None, description: str | None) -> None:
    """A subtask's title or description, changed by an integration (PATCH /v1/tasks/:id)."""
    _state_of(subtask.conversation, acting_user)
    changed = []
    if title is not None:
        title = " ".join(title.split())[:TITLE_LIMIT]
        if not title:
            raise ActionRefused("Give the task a title.")
        subtask.title = title
        changed.append("title")
    if description is not None:
        subtask.description = description.strip()
        changed.append("description")
    if changed:
        subtask.save(update_fields=changed)
        live.publish_after_commit(conversation_ids=[subtask.conversation_id], kind="changed")
