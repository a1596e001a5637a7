"""The timeline's posts: Markdown rendered safely, and only web links followed."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.safestring import SafeString, mark_safe

from conversations.integrations import markdown_html

register = template.Library()


@register.filter
def post_markdown(source: str) -> SafeString:
    return mark_safe(markdown_html(source))  # noqa: S308 — escaped by markdown-it, then nh3's allow-list


@register.filter
def web_url(value: object) -> str:
    """A link an integration gave, only if it is http(s): never javascript: or data:."""
    url = str(value or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else ""


@register.filter
def from_epoch(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None
