"""The Activity feed's bell, drawn from the sidebar counts the page already has."""

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

from conversations import activity

register = template.Library()


@register.simple_tag
def activity_bell(sidebar_counts: dict[str, Any] | None) -> activity.Bell:
    return activity.bell(sidebar_counts or {})


@register.filter
def reaction_summary(item: Any) -> dict[str, Any]:
    """A reaction group as "Anna, Ben and 2 others" and its emoji, each once."""
    reactions = list(reversed(item.data.get("reactions", [])))  # the latest first
    names = list(dict.fromkeys(r["name"] for r in reactions))
    shown = names[:2]
    rest = len(names) - len(shown)
    others = f" and {rest} other{'s' if rest > 1 else ''}" if rest else ""
    people = f"{', '.join(shown)}{others}" if rest else " and ".join(shown)
    return {"people": people, "emoji": "".join(dict.fromkeys(r["emoji"] for r in reactions))}


@register.filter
def moment(value: str | None) -> datetime | None:
    """An ISO time kept in an item's data, as a datetime (None if missing or malformed)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@register.simple_tag
def due_label(due: datetime) -> str:
    """How far a reminder's time is: "due in 10 minutes", or "was due 5 minutes ago"."""
    now = timezone.now()
    if due >= now:
        return f"due in {timeuntil(due, now, depth=1)}"
    return f"was due {timesince(due, now, depth=1)} ago"
