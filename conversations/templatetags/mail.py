"""How a message body is shown: sanitised HTML in a frame, escaped text, or the raw original."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django import template
from django.utils.html import Urlizer, escape
from django.utils.safestring import mark_safe
from django.utils.text import normalize_newlines

from conversations.models import Message
from conversations.sanitize import frame_document, sanitize_email_html

register = template.Library()

# Enough raw text for a person to read; the whole original is a download away.
RAW_TEXT_LIMIT = 100_000


@dataclass(frozen=True)
class MessageBody:
    kind: str  # "html", "text" or "raw"
    srcdoc: str = ""
    text_html: str = ""
    raw_text: str = ""
    raw_truncated: bool = False
    blocked_remote_images: int = 0
    blocked_trackers: int = 0


class _Urlizer(Urlizer):
    url_template = '<a href="{href}" target="_blank" rel="noopener noreferrer nofollow"{attrs}>{url}</a>'


_urlize = _Urlizer()
# Everything the Urlizer can turn into a link contains one of these: a scheme, "www.", an address's
# "@" or one of the top-level domains it links bare (see django.utils.html.Urlizer.handle_word).
_LINKABLE = re.compile(r"https?://|www\.|@|\.(?:com|edu|gov|int|mil|net|org)", re.IGNORECASE)


@register.simple_tag
def message_body(message: Message, allow_remote_images: bool = False) -> MessageBody:
    if message.parse_error:
        return _raw_body(message)
    if message.body_html.strip():
        sanitized = sanitize_email_html(
            message.body_html, message_id=message.id, allow_remote_images=bool(allow_remote_images)
        )
        if sanitized.html.strip():
            return MessageBody(
                "html",
                srcdoc=frame_document(sanitized.html),
                blocked_remote_images=sanitized.blocked_remote_images,
                blocked_trackers=sanitized.blocked_trackers,
            )
    # The Urlizer escapes every word it does not turn into a link: the only markup is ours. Text
    # with nothing it could link is that same escaped text, without its word-by-word work.
    text = normalize_newlines(message.body_text)
    linked = _urlize(text, nofollow=False, autoescape=True) if _LINKABLE.search(text) else escape(text)
    return MessageBody("text", text_html=mark_safe(linked.replace("\n", "<br>")))  # noqa: S308


def _raw_body(message: Message) -> MessageBody:
    if not message.raw_file:
        return MessageBody("raw", raw_text=message.body_text)
    with message.raw_file.open("rb") as raw:
        data = raw.read(RAW_TEXT_LIMIT + 1)
    return MessageBody(
        "raw",
        raw_text=data[:RAW_TEXT_LIMIT].decode("utf-8", errors="replace"),
        raw_truncated=len(data) > RAW_TEXT_LIMIT,
    )
