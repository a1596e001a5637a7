"""Quoting a comment or a message in a comment, in the same conversation or another one.

Seed (Comments FAQ): "Start by replying to a comment, then move to another conversation. The
quoted comment will stay attached to the comment box until you submit it. A link to the original
conversation will be included." The chat box carries the pending quote as `quote=<kind>:<id>`;
posting copies who said it and what into a CommentQuote, linked to the original.
"""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from conversations.models import Comment, CommentQuote, ConversationState, Message
from inboxes.models import User
from missive.ids import is_uuid

EXCERPT_LIMIT = 600
KINDS = ("comment", "message")

Quotable = Comment | Message


def find_quotable(user: User, kind: str, item_id: str) -> Quotable | None:
    """A comment or message of a conversation the user can access, else None."""
    if kind not in KINDS or not is_uuid(item_id):
        return None
    model = Comment if kind == "comment" else Message
    return (
        model.objects.filter(id=item_id, conversation__states__user=user)  # type: ignore[attr-defined]
        .select_related("conversation", "author")
        .first()
    )


def parse_ref(user: User, ref: str) -> Quotable | None:
    """The `quote` field of the chat box ("comment:<id>"), resolved for this user."""
    kind, _, item_id = ref.partition(":")
    return find_quotable(user, kind, item_id)


def author_name(source: Quotable) -> str:
    if isinstance(source, Comment):
        return source.author.display_name if source.author else "Missive"
    return source.sender_label or "Unknown sender"


def excerpt(source: Quotable) -> str:
    """The quoted words: a comment's text, or a message's own text without its quoted history."""
    if isinstance(source, Comment):
        text = source.body
    else:
        lines = []
        for line in source.body_text.replace("\r\n", "\n").split("\n"):
            if line.startswith(">") or re.match(r"^On .+ wrote:\s*$", line):
                break
            lines.append(line)
        text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text if len(text) <= EXCERPT_LIMIT else text[: EXCERPT_LIMIT - 1].rstrip() + "…"


def quoted_at(source: Quotable) -> datetime:
    return source.created_at if isinstance(source, Comment) else source.sent_at


def record(comment: Comment, source: Quotable) -> CommentQuote:
    """Copy the quote onto a new comment (in the comment's transaction)."""
    return CommentQuote.objects.create(
        organization_id=comment.organization_id,
        comment=comment,
        source_conversation_id=source.conversation_id,
        source_comment=source if isinstance(source, Comment) else None,
        source_message=source if isinstance(source, Message) else None,
        author_name=author_name(source)[:200],
        excerpt=excerpt(source) or "(attachments)",
        quoted_at=quoted_at(source),
    )


def readable_conversations(user: User, conversation_ids: set[UUID]) -> set[UUID]:
    """Which of these conversations the user can open (the link back shows their subject)."""
    if not conversation_ids:
        return set()
    return set(
        ConversationState.objects.filter(user=user, conversation_id__in=conversation_ids).values_list(
            "conversation_id", flat=True
        )
    )
