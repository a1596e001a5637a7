"""Small presentation helpers shared by every page: icons, avatars, times."""

from datetime import datetime
from functools import lru_cache

from django import template
from django.templatetags.static import static
from django.utils import timezone
from django.utils.html import format_html

from inboxes.models import AVATAR_COLORS, User
from inboxes.status import status_of

register = template.Library()


@lru_cache(maxsize=1)
def _sprite() -> str:
    # Resolved once per process: static() looks up the manifest, and a page draws ~200 icons.
    return static("img/icons.svg")


@register.simple_tag
def icon(name: str, css_class: str = "icon") -> str:
    return format_html('<svg class="{}" aria-hidden="true"><use href="{}#{}"></use></svg>', css_class, _sprite(), name)


@register.simple_tag
def avatar(user: User | None, size: str = "", greyed: bool = False) -> str:
    if user is None:
        return ""
    classes = " ".join(filter(None, ["avatar", size, "greyed" if greyed else ""]))
    status = status_of(user.id) if user.id else None
    if status is not None:  # the status shows wherever the avatar does (inboxes/status.py)
        return format_html(
            '<span class="{} has-status" style="--avatar: {}" title="{} — {}">{}'
            '<span class="avatar-status" aria-hidden="true">{}</span></span>',
            classes,
            user.avatar_color,
            user.display_name,
            status.text,
            user.initials,
            status.badge,
        )
    return format_html(
        '<span class="{}" style="--avatar: {}" title="{}">{}</span>',
        classes,
        user.avatar_color,
        user.display_name,
        user.initials,
    )


@register.simple_tag
def contact_avatar(name: str, address: str, size: str = "") -> str:
    """An initials avatar for an external person, colored stably by address."""
    label = (name or address or "?").strip()
    parts = [part for part in label.replace("@", " ").replace(".", " ").split() if part]
    initials = "".join(part[0] for part in parts[:2]).upper() or "?"
    color = AVATAR_COLORS[sum(map(ord, address or label)) % len(AVATAR_COLORS)]
    classes = " ".join(filter(None, ["avatar", size]))
    return format_html('<span class="{}" style="--avatar: {}">{}</span>', classes, color, initials)


@register.simple_tag
def when(moment: datetime, style: str = "short") -> str:
    """A <time> the browser re-renders in the reader's own time zone (static/js/app.js)."""
    local = timezone.localtime(moment)
    fallback = local.strftime("%b %-d, %H:%M")
    return format_html(
        '<time datetime="{}" data-style="{}" title="{}">{}</time>',
        moment.isoformat(),
        style,
        local.strftime("%A %-d %B %Y, %H:%M %Z"),
        fallback,
    )


@register.filter
def get_item(mapping: dict, key: str) -> object:
    return mapping.get(key) if mapping else None


@register.filter
def count_label(n: int | None) -> str:
    """Sidebar counts stop at 999: "999+" past it (see conversations.counts.COUNT_CAP)."""
    if not n:
        return ""
    return "999+" if n >= 999 else str(n)
