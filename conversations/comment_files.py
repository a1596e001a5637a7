"""Files attached to comments: the size limit, storing them, deleting them with their comment,
and what the timeline shows of them.

Uploads come from the chat box (clip button, paste, drop) with the comment, in one multipart
request; `actions.do_post_comment` checks them with `upload_problem` and stores them with `store`
in its transaction. Stored files are removed after the commit that deletes their rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from uuid import UUID

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from conversations import quotes
from conversations.models import Comment, CommentAttachment, CommentQuote
from inboxes.models import User

MAX_FILES = 20

# The only types shown inline (as thumbnails), recognised by their first bytes, never by the
# browser's word: anything else is a download.
_IMAGE_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]


def max_bytes() -> int:
    return int(settings.COMMENT_ATTACHMENTS_MAX_MB) * 1024 * 1024


def upload_problem(files: Sequence[UploadedFile]) -> str:
    """Why these files cannot go with one comment, or "" if they can."""
    if len(files) > MAX_FILES:
        return f"Attach at most {MAX_FILES} files to one comment."
    total = sum(f.size or 0 for f in files)
    if total > max_bytes():
        weight, limit = filesizeformat(total), filesizeformat(max_bytes())
        weight = weight if weight != limit else f"more than {limit}"
        return f"These files weigh {weight}: a comment's files can weigh {limit} at most."
    if any(not (f.name or "").strip() for f in files):
        return "Every file needs a name."
    return ""


def _sniffed_type(upload: UploadedFile) -> str:
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for signature, content_type in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    claimed = (upload.content_type or "").split(";")[0].strip().lower()
    # A claimed image that does not start like one is not shown inline.
    return "application/octet-stream" if not claimed or claimed.startswith("image/") else claimed[:127]


def store(comment: Comment, files: Iterable[UploadedFile]) -> list[CommentAttachment]:
    """Save the uploads through Django's storage and record them on the comment."""
    stored = []
    for upload in files:
        attachment = CommentAttachment(
            organization_id=comment.organization_id,
            comment=comment,
            filename=_clean_name(upload.name or "file"),
            content_type=_sniffed_type(upload),
            size=upload.size or 0,
        )
        attachment.file.save(attachment.filename, upload, save=False)
        attachment.save()
        stored.append(attachment)
    return stored


def _clean_name(name: str) -> str:
    """The name as shown: without a client's folder path or control characters, at most 255."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "file"
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 254 - len(ext)] + dot + ext) if dot and len(ext) < 20 else name[:255]
    return name


def discard_after_commit(attachments: QuerySet[CommentAttachment]) -> None:
    """The stored files of these rows go once the transaction deleting the rows commits (a
    rolled-back delete keeps them)."""
    names = [name for name in attachments.values_list("file", flat=True) if name]
    if not names:
        return

    def delete() -> None:
        storage = CommentAttachment._meta.get_field("file").storage  # type: ignore[attr-defined]
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete)


def decorate(comments: Sequence[Comment], user: User) -> None:
    """Give each comment its `file_list` and `quote_of` (or None) for the timeline. A quote's
    `anchor` finds the original on its page, and `link` leads to it for readers who can open its
    conversation."""
    ids = [c.id for c in comments]
    files: dict[UUID, list[CommentAttachment]] = defaultdict(list)
    found: dict[UUID, CommentQuote] = {}
    if ids:
        for attachment in CommentAttachment.objects.filter(comment_id__in=ids):
            files[attachment.comment_id].append(attachment)
        found = {
            q.comment_id: q
            for q in CommentQuote.objects.filter(comment_id__in=ids).select_related("source_conversation")
        }
    readable = quotes.readable_conversations(
        user, {q.source_conversation_id for q in found.values() if q.source_conversation_id}
    )
    for comment in comments:
        comment.file_list = files[comment.id]  # type: ignore[attr-defined]
        quote = found.get(comment.id)
        if quote is not None:
            quote.same_conversation = quote.source_conversation_id == comment.conversation_id  # type: ignore[attr-defined]
            quote.anchor = _anchor(quote)  # type: ignore[attr-defined]
            quote.link = _link(quote) if quote.source_conversation_id in readable else ""  # type: ignore[attr-defined]
        comment.quote_of = quote  # type: ignore[attr-defined]


def _link(quote: CommentQuote) -> str:
    return reverse("conversation", args=["all", quote.source_conversation_id]) + _anchor(quote)


def _anchor(quote: CommentQuote) -> str:
    """Where the quoted comment or message is on its conversation's page, if it still exists."""
    if quote.source_comment_id:
        return f"#comment-{quote.source_comment_id}"
    if quote.source_message_id:
        return f"#message-{quote.source_message_id}"
    return ""
